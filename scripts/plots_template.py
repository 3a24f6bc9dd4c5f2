"""Write .dvc/plots/page.html: the page `dvc plots show` fills, with Vega inlined.

DVC's default page loads Vega, Vega-Lite and vega-embed from a CDN, so its
charts are blank offline. This page carries them in one minified script from
vl-convert-python (the Vega team's bundler), which defines the one global
DVC's chart divs call, `vegaEmbed`. It has DVC's `{plot_divs}` placeholder
and no `{scripts}` one, so DVC's CDN tags are never added.

    pip install -e '.[plots]'
    python scripts/plots_template.py          # rewrite the template
    python scripts/plots_template.py --check  # exit 1 if it differs from a fresh one
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / ".dvc" / "plots" / "page.html"
# DVC's built-in templates are Vega-Lite v5 specs; a v5 compiler takes them as they are.
VEGA_LITE = "5.21"

PAGE = """<!DOCTYPE html>
<!--
  The page `dvc plots show` writes (`[plots] html_template` in .dvc/config).
  Vega {vega}, Vega-Lite {vega_lite} and vega-embed {embed} are inlined (from
  vl-convert-python {vl_convert}), so the charts draw offline. Generated; do not edit.
  Regenerate: pip install -e '.[plots]' && python scripts/plots_template.py
-->
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>DVC plots</title>
<script>(function () {{
{bundle}
}})();</script>
<style>
body {{ font-family: sans-serif; }}
table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def render() -> str:
    """The template's text, from the installed vl-convert-python."""
    import vl_convert

    if VEGA_LITE not in vl_convert.get_vegalite_versions():
        raise SystemExit(f"this vl-convert-python does not bundle Vega-Lite {VEGA_LITE}")
    # The one global DVC's charts need. Inside the function, the bundle's
    # thousands of top-level names (`t`, `e`, ...) stay out of the page's scope.
    bundle = vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;", vl_version=VEGA_LITE)
    # Whatever would end the script element or be taken for one of DVC's
    # placeholders would break the page.
    for forbidden in ("</script", "<!--", "{plot_divs}", "{scripts}", "{refresh_tag}"):
        if forbidden in bundle:
            raise SystemExit(f"the bundle contains {forbidden!r}; it cannot be inlined as is")
    if "window.vegaEmbed=" not in bundle.replace(" ", ""):
        raise SystemExit("the bundle does not define window.vegaEmbed, which DVC's charts call")
    # vl-convert names Vega-Lite by minor version; the bundle holds the full one.
    patch = re.search(rf'"({re.escape(VEGA_LITE)}\.\d+)"', bundle)
    return PAGE.format(
        vega=vl_convert.get_vega_version(),
        vega_lite=patch.group(1) if patch else VEGA_LITE,
        embed=vl_convert.get_vega_embed_version(),
        vl_convert=_version("vl-convert-python"),
        bundle=bundle,
    )


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TEMPLATE, help="default: %(default)s")
    parser.add_argument(
        "--check", action="store_true", help="compare with the file instead of writing it"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'differs; run without --check'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
