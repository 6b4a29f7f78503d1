// Starts ReDoc on /api/redoc (api/routes/docs.py), from the pinned package's standalone bundle.
// A file, not an inline script (the Content-Security-Policy allows this origin's scripts only).
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  window.Redoc.init(root.getAttribute("data-openapi-url"), { hideDownloadButton: false }, root);
})();
