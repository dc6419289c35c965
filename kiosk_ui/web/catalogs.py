"""Bring the kiosk's .po catalogs in line with its templates: ``python -m kiosk_ui.web.catalogs``.

For whoever changes a template's text: every ``_()`` / ``ngettext()`` of the templates
becomes a msgid of each catalog (new ones with an empty msgstr, for a translator to fill;
ones no template uses any more are dropped); translations already made are kept.  The
tests (tests/kiosk_ui/test_pages.py) fail while any msgstr is empty, so nothing ships
half in English.  The appliance itself needs no step: it compiles the .po files at start-up.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from kiosk_ui.web.i18n import DEFAULT, DOMAIN, LANGUAGES, po_path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_OPTIONS = {"**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}


def template_catalog() -> Catalog:
    """Every message the templates show, with where each is used."""
    catalog = Catalog(project="Konferenco kiosk", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        TEMPLATES, [("**.html", "jinja2")], _OPTIONS
    ):
        catalog.add(
            message, None, [(f"templates/{filename}", lineno)], auto_comments=comments, context=context
        )
    return catalog


def update(lang: str, template: Catalog) -> list[str]:
    """Merge ``template`` into ``lang``'s catalog; the msgids still waiting for a translation."""
    path: Path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang, domain=DOMAIN)
    else:
        catalog = Catalog(locale=lang, domain=DOMAIN, project="Konferenco kiosk")
    catalog.update(template, no_fuzzy_matching=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=0, ignore_obsolete=True, include_lineno=False)
    return [
        str(m.id)
        for m in catalog
        if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]


def main() -> None:
    template = template_catalog()
    for lang in LANGUAGES:
        if lang == DEFAULT:
            continue
        waiting = update(lang, template)
        print(f"{lang}: {len(template)} messages, {len(waiting)} to translate")
        for msgid in waiting:
            print(f"  {msgid}")


if __name__ == "__main__":
    main()
