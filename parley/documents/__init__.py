"""Documents a debtor keeps (SPEC §14): the validation notice and the written agreement, each
as a printable page and a PDF from one structure. See docs/documents.md.

- `validation`: the validation period's calendar (receipt, end date, federal holidays)
- `notices`: providing the notice, its frozen content, the period of an account
- `notice_wording`, `agreement`: the two documents' words, as a `layout.Document`
- `render`: a document as HTML (Jinja2, `templates/`) and as PDF (fpdf2)
- `links`: the debtor's signed links; `overshadowing`: the settlement-deadline sentence

Nothing is imported here, so importing one module (the escalations need `notices`) never pulls
in the rest.
"""
