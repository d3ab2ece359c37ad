"""Whether what Slack reports about a file (``mimetype``, ``filetype``) fits its extension.

Slack reports two things: a MIME type (often the browser's guess at upload) and its own
``filetype`` name ("python", "markdown", "binary", …). Either one fitting the extension is
enough, and both may be empty while Slack is still scanning the file. This is only a cheap
first look before download: the bytes are checked afterwards, so the table errs towards
letting real files through and catches the plain contradictions (a ``.csv`` that Slack calls
"binary", a ``.png`` that Slack calls a PDF).

Accepted beyond the seed table (``types.ACCEPTED``):

======================  =========================================  ===============================
extension               extra MIME types                           Slack ``filetype`` names
======================  =========================================  ===============================
every text type         text/plain                                 text (and the ones below)
c                       text/x-csrc                                c
cpp                     text/x-c, text/x-c++src                    cpp, c
csv                     text/csv, text/x-csv, application/x-csv,   csv
                        text/comma-separated-values,
                        application/vnd.ms-excel
html                    application/xhtml+xml                      html
java                    text/x-java-source                         java
json                    text/json, application/x-json              json, javascript
md                      text/x-markdown                            markdown
php                     application/x-php, application/x-httpd-php php
py                      text/x-python3, text/x-python-script,      python
                        application/x-python
rb                      application/x-ruby                         ruby
tex                     application/x-tex, text/x-latex,           latex
                        application/x-latex
css                     —                                          css
js                      application/javascript,                    javascript
                        application/x-javascript
ts                      text/typescript, application/x-typescript, typescript, javascript
                        video/mp2t (the MPEG stream type many
                        systems map ``.ts`` to)
xml                     —                                          xml
every binary type       application/octet-stream                   (the ones below)
pdf                     application/x-pdf                          pdf
jpeg, jpg               image/jpg, image/pjpeg                     jpg, jpeg
gif                     —                                          gif
png                     image/x-png                                png
tar                     application/tar                            tar
zip                     application/x-zip-compressed,              zip
                        application/x-zip, multipart/x-zip
docx                    application/zip                            docx
pptx                    application/zip                            pptx
xlsx                    application/zip,                           xlsx
                        application/vnd.ms-excel
======================  =========================================  ===============================

"binary" is never a fitting ``filetype`` on its own: Slack uses it for content it could not
recognise, which for a text type is a contradiction and for a binary type says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.files.types import ACCEPTED, TEXT

_GENERIC_TEXT_MIME = "text/plain"
_GENERIC_BINARY_MIME = "application/octet-stream"
_GENERIC_TEXT_FILETYPE = "text"
_OOXML_GENERIC = ("application/zip",)

EXTRA_MIMETYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "c": ("text/x-csrc",),
        "cpp": ("text/x-c", "text/x-c++src"),
        "csv": (
            "text/csv",
            "text/x-csv",
            "application/x-csv",
            "text/comma-separated-values",
            "application/vnd.ms-excel",
        ),
        "html": ("application/xhtml+xml",),
        "java": ("text/x-java-source",),
        "json": ("text/json", "application/x-json"),
        "md": ("text/x-markdown",),
        "php": ("application/x-php", "application/x-httpd-php"),
        "py": ("text/x-python3", "text/x-python-script", "application/x-python"),
        "rb": ("application/x-ruby",),
        "tex": ("application/x-tex", "text/x-latex", "application/x-latex"),
        "js": ("application/javascript", "application/x-javascript"),
        "ts": ("text/typescript", "application/x-typescript", "video/mp2t"),
        "pdf": ("application/x-pdf",),
        "jpeg": ("image/jpg", "image/pjpeg"),
        "jpg": ("image/jpg", "image/pjpeg"),
        "png": ("image/x-png",),
        "tar": ("application/tar",),
        "zip": ("application/x-zip-compressed", "application/x-zip", "multipart/x-zip"),
        "docx": _OOXML_GENERIC,
        "pptx": _OOXML_GENERIC,
        "xlsx": (*_OOXML_GENERIC, "application/vnd.ms-excel"),
    }
)

SLACK_FILETYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "c": ("c",),
        "cpp": ("cpp", "c"),
        "csv": ("csv",),
        "docx": ("docx",),
        "html": ("html",),
        "java": ("java",),
        "json": ("json", "javascript"),
        "md": ("markdown",),
        "pdf": ("pdf",),
        "php": ("php",),
        "pptx": ("pptx",),
        "py": ("python",),
        "rb": ("ruby",),
        "tex": ("latex",),
        "txt": ("text",),
        "css": ("css",),
        "jpeg": ("jpg", "jpeg"),
        "jpg": ("jpg", "jpeg"),
        "js": ("javascript",),
        "gif": ("gif",),
        "png": ("png",),
        "tar": ("tar",),
        "ts": ("typescript", "javascript"),
        "xlsx": ("xlsx",),
        "xml": ("xml",),
        "zip": ("zip",),
    }
)


def fitting_mimetypes(ext: str) -> frozenset[str]:
    """Every MIME type that fits the (accepted) extension: the seed table's plus common variants."""
    generic = _GENERIC_TEXT_MIME if ext in TEXT else _GENERIC_BINARY_MIME
    return frozenset((*ACCEPTED.get(ext, ()), *EXTRA_MIMETYPES.get(ext, ()), generic))


def fitting_filetypes(ext: str) -> frozenset[str]:
    """Every Slack ``filetype`` name that fits the (accepted) extension."""
    generic = (_GENERIC_TEXT_FILETYPE,) if ext in TEXT else ()
    return frozenset((*SLACK_FILETYPES.get(ext, ()), *generic))


def declared_type_fits(ext: str, mimetype: str, filetype: str) -> bool:
    """True if Slack said nothing yet, or its MIME type or its ``filetype`` fits the extension."""
    mime = mimetype.split(";", 1)[0].strip().lower()
    kind = filetype.strip().lower()
    if not mime and not kind:
        return True
    return mime in fitting_mimetypes(ext) or kind in fitting_filetypes(ext)
