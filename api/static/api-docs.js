// Starts Swagger UI on /api/docs (api/routes/docs.py). A file, not an inline script: the pages'
// Content-Security-Policy allows scripts from this origin only. Nothing is fetched from another
// host: the OpenAPI document is this API's own, and the online validator badge is off.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    showExtensions: true,
    showCommonExtensions: true,
  });
})();
