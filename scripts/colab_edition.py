"""The Colab edition: every chapter as a plain-Jupyter notebook that reads like the HTML book.

``make colab`` (after ``make book``) writes ``_build/colab/book/<chapter>.ipynb``; the publishing
workflow pushes ``_build/colab`` to the branch the launch buttons open (``repository.branch``).

Each Markdown cell is split into blocks by the tokenizer myst-parser itself uses
(markdown-it-py with mdit-py-plugins, configured from ``_config.yml``); its MyST markup
becomes plain Markdown:

* ``{glue:text}`key:fmt``` / ``{glue}`key``` -> the value the last build glued, formatted by
  myst-nb's own ``format_plain_text`` (read from ``<build>/jupyter_execute/**/*.glue.json``);
* ``{cite:t}`` / ``{cite:p}`` / ``{cite}`` -> "Author (year)" / "(Author, year)", linked to the
  published bibliography page (authors and years from ``book/references.bib``);
* ``{doc}``, ``{ref}``, ``{numref}``, ``{eq}`` -> links to the published pages, with the titles,
  anchors of the build's public inventory (``html/objects.inv``) and the figure and equation
  numbers its pages show;
* ``{term}`` -> plain text; ``{math}`` -> ``$...$``;
* admonitions and other ``:::{...}`` / ```` ```{...} ```` directives -> blockquotes,
  ```` ```{math} ```` -> ``$$...$$``; equation labels are dropped (numbered equations keep
  their number as ``\\tag{n}``), ``(label)=`` targets and ``%`` comments are dropped.

Code cells lose their outputs. The set-up cell (the first code cell) is kept; other
``remove-cell`` cells (HTML-only) are dropped; a figure cell is followed by its caption.
Cells the HTML book collapses become collapsed Colab form cells (``metadata.cellView =
"form"``, first line ``# @title <title> (double-click to show)``), which show only their
title until opened: the exercise solutions (``hide-input``, "Show solution") and the code
behind the glued numbers (``hide-cell``). The text's "hidden under *Show solution*" becomes
the Colab instruction (double-click the title).
A Markdown construct this script does not know is an error, never copied through::

    python scripts/colab_edition.py [--build _build] [--out _build/colab]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import re
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from book_pages import chapter_notebooks
from sync_repository import ROOT, Repository, first_code_cell, load_repository

from subliminal.files import replace_folder

# What must never reach the Colab edition: MyST roles and directives that plain Jupyter shows as raw text
MYST_PATTERNS = ("{glue", "{cite", "{term", "{doc", "{ref", "{numref", "{eq}", "{math}", ":::{", "```{")
ADMONITION_TITLES = {"note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important", "warning": "Warning",
                     "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
                     "seealso": "See also", "dropdown": ""}
DROP_TAGS = ("remove-cell",)
FORM_TAGS = ("hide-input", "hide-cell")  # collapsed in the HTML book -> collapsed form cells
FORM_HINT = "(double-click to show)"
SOLUTION_TEXT = ("Each solution is in a collapsed cell below its exercise that shows only its "
                 f"title, *Solution {FORM_HINT}*: double-click the title to show the solution.")


class EditionError(ValueError):
    """A chapter uses markup the Colab edition cannot render, or the build is missing."""


@dataclass
class BookIndex:
    """What the conversion needs to know about the built book."""

    repo: Repository
    glue: dict[str, dict[str, dict]]                 # docname -> key -> glued output ({"data": {mime: ...}})
    titles: dict[str, str]                           # docname -> page title
    labels: dict[str, tuple[str, str, str]]          # label -> (docname, anchor, title)
    numbers: dict[str, str] = field(default_factory=dict)   # figure label or equation label -> "1.2"
    equations: dict[str, str] = field(default_factory=dict)  # equation label -> docname
    citations: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # key -> (last names, year)
    figure_format: str = "Fig. %s"


# --------------------------------------------------------------------------- reading the build
def load_citations(bib: Path = ROOT / "book" / "references.bib") -> dict[str, tuple[list[str], str]]:
    from pybtex.database import parse_file

    entries = {}
    for key, entry in parse_file(str(bib)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        entries[key] = ([n for n in names if n.lower() != "others"] or [key], entry.fields.get("year", "n.d."))
    return entries


def read_inventory(path: Path) -> list[tuple[str, str, str, str]]:
    """The entries ``(name, domain:role, uri, display name)`` of a Sphinx ``objects.inv`` (version 2:
    four header lines, then zlib-compressed lines ``name domain:role priority uri dispname``; a
    ``$`` at the end of the uri stands for the name, a display name ``-`` for the name)."""
    data = Path(path).read_bytes()
    header, _, body = data.partition(b"\n")
    if header.strip() != b"# Sphinx inventory version 2":
        raise EditionError(f"{path} is not a Sphinx inventory (version 2)")
    for _ in range(3):  # project, version, compression lines
        line, _, body = body.partition(b"\n")
        if not line.startswith(b"#"):
            raise EditionError(f"{path}: unexpected inventory header {line[:60]!r}")
    entries = []
    for line in zlib.decompress(body).decode("utf-8").splitlines():
        match = re.fullmatch(r"(?P<name>.+?)\s+(?P<type>\S+:\S+)\s+(?P<prio>-?\d+)\s+(?P<uri>\S*)\s+(?P<disp>.+)", line)
        if not match:
            continue
        name, uri, disp = match.group("name"), match.group("uri"), match.group("disp")
        entries.append((name, match.group("type"), uri[:-1] + name if uri.endswith("$") else uri,
                        name if disp == "-" else disp))
    return entries


FIGURE = re.compile(r'<figure\b[^>]*\bid="(?P<id>[^"]+)"[^>]*>(?P<body>.*?)</figure>', re.S)
CAPTION_NUMBER = re.compile(r'<span class="caption-number">(?P<text>[^<]*)</span>')
EQUATION = re.compile(r'\bid="equation-(?P<label>[^"]+)"[^>]*>\s*<span class="eqno">\((?P<number>[^)<]+)\)')


def page_numbers(html: str) -> tuple[dict[str, str], dict[str, str], str | None]:
    """Figure numbers (anchor -> "1.2"), equation numbers (label -> "1.2") and the figure format
    ("Fig. %s") as a built page shows them."""
    figures, equations, figure_format = {}, {}, None
    for figure in FIGURE.finditer(html):
        caption = CAPTION_NUMBER.search(figure.group("body"))
        if caption:
            text = caption.group("text").strip()
            number = text.split()[-1]
            figures[figure.group("id")] = number
            figure_format = figure_format or text[: -len(number)] + "%s"
    for equation in EQUATION.finditer(html):
        equations[equation.group("label")] = equation.group("number")
    return figures, equations, figure_format


def _split_uri(uri: str) -> tuple[str, str]:
    page, _, anchor = uri.partition("#")
    return page.removesuffix(".html"), anchor


def load_index(build: Path, repo: Repository | None = None) -> BookIndex:
    """Glue values, titles, labels and numbers of the Jupyter Book build in ``build`` (e.g. ``_build``):
    from its public inventory (``html/objects.inv``), its pages (figure and equation numbers as shown)
    and myst-nb's ``jupyter_execute/**/*.glue.json``."""
    build = Path(build)
    inventory, outputs = build / "html" / "objects.inv", build / "jupyter_execute"
    if not inventory.exists() or not outputs.is_dir():
        raise EditionError(f"no book build in {build} (html/objects.inv or jupyter_execute/ missing); "
                           "run `make book` first (or pass --build to another build folder)")
    titles, labels, equations, numbers = {}, {}, {}, {}
    for name, kind, uri, disp in read_inventory(inventory):
        if kind == "std:doc":
            titles[name] = disp
        elif kind == "std:label":
            labels[name] = (*_split_uri(uri), "" if disp == name else disp)
    figure_format = None
    for doc in titles:
        page = build / "html" / f"{doc}.html"
        if not page.exists():
            continue
        figures, shown, page_format = page_numbers(page.read_text(encoding="utf-8"))
        figure_format = figure_format or page_format
        numbers.update({label: number for label, (target, anchor, _t) in labels.items()
                        if target == doc and anchor in figures for number in [figures[anchor]]})
        equations.update({label: doc for label in shown})  # the math domain exports no inventory
        numbers.update(shown)
    glue = {}
    for path in outputs.rglob("*.glue.json"):
        doc = path.relative_to(outputs).as_posix()[: -len(".glue.json")]
        glue[doc] = json.loads(path.read_text())
    return BookIndex(repo=repo or load_repository(), glue=glue, titles=titles, labels=labels, numbers=numbers,
                     equations=equations, citations=load_citations(), figure_format=figure_format or "Fig. %s")


# --------------------------------------------------------------------------- Markdown
@functools.lru_cache(maxsize=1)
def _parser():
    """The tokenizer myst-parser itself uses (markdown-it-py + mdit-py-plugins), configured with
    the book's MyST extensions from ``_config.yml``."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser
    import yaml

    parse = (yaml.safe_load((ROOT / "_config.yml").read_text()) or {}).get("parse", {})
    config = MdParserConfig(enable_extensions=set(parse.get("myst_enable_extensions", [])),
                            dmath_double_inline=bool(parse.get("myst_dmath_double_inline", False)))
    return create_md_parser(config, RendererHTML)


def _target(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    match = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content.strip())
    return (match.group(1).strip(), match.group(2).strip()) if match else (None, content.strip())


def _docname(target: str, docname: str) -> str:
    target = target.removesuffix(".ipynb").removesuffix(".md")
    if target.startswith("/"):
        return target.lstrip("/")
    parts = docname.split("/")[:-1] + target.split("/")
    out: list[str] = []
    for part in parts:
        if part == "..":
            out.pop()
        elif part not in ("", "."):
            out.append(part)
    return "/".join(out)


def _glue_value(content: str, docname: str, index: BookIndex, role: str) -> str:
    from myst_nb.core.variables import format_plain_text

    if role == "glue:text":  # myst-nb's PasteTextRole: "key:format_spec", format "s" by default
        key, fmt = content.rsplit(":", 1) if ":" in content.replace("::", "") else (content, "s")
    else:
        key, fmt = content, ""
    doc, _, name = key.rpartition("::")
    doc = _docname(doc, docname) if doc else docname
    try:
        data = index.glue[doc][name]["data"]
    except KeyError:
        raise EditionError(f"{docname}: glue key {name!r} has no value in the build (run `make book`)") from None
    if role == "glue:md":
        return data["text/markdown"]
    if "text/plain" not in data:
        raise EditionError(f"{docname}: glue key {name!r} has no text/plain value")
    return format_plain_text(data["text/plain"], fmt or "")


def _cite(content: str, role: str, index: BookIndex, docname: str) -> str:
    url = index.repo.page_url("book/bibliography")
    parts = []
    for key in (k.strip() for k in content.split(",")):
        if key not in index.citations:
            raise EditionError(f"{docname}: citation {key!r} is not in book/references.bib")
        names, year = index.citations[key]
        authors = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
        parts.append((authors, year))
    if role == "cite:t":
        return "; ".join(f"[{a} ({y})]({url})" for a, y in parts)
    return "(" + "; ".join(f"[{a}, {y}]({url})" for a, y in parts) + ")"


def _role(name: str, content: str, docname: str, index: BookIndex) -> str:
    repo = index.repo
    if name in ("glue", "glue:", "glue:any", "glue:text", "glue:md"):
        return _glue_value(content, docname, index, name)
    if name in ("cite", "cite:p", "cite:t", "cite:ps", "cite:ts"):
        return _cite(content, name.rstrip("s") if name != "cite" else "cite:p", index, docname)
    if name == "term":
        return _target(content)[0] or _target(content)[1]
    if name == "math":
        return f"${content}$"
    if name == "doc":
        text, target = _target(content)
        doc = _docname(target, docname)
        if doc not in index.titles:
            raise EditionError(f"{docname}: {{doc}} target {target!r} is not a page of the book")
        return f"[{text or index.titles[doc]}]({repo.page_url(doc)})"
    if name in ("ref", "numref"):
        text, label = _target(content)
        if label not in index.labels:
            raise EditionError(f"{docname}: {{{name}}} label {label!r} is not defined in the book")
        doc, anchor, title = index.labels[label]
        if name == "numref":
            number = index.numbers.get(label)
            if number is None:
                raise EditionError(f"{docname}: {{numref}} label {label!r} has no figure number in the build")
            text = (text or index.figure_format).replace("%s", number).replace("{number}", number)
        return f"[{text or title}]({repo.page_url(doc, anchor)})"
    if name == "eq":
        text, label = _target(content)
        if label not in index.equations:
            raise EditionError(f"{docname}: {{eq}} label {label!r} is not a numbered equation of the book")
        number = index.numbers.get(label, "")
        return f"[{text or f'({number})'}]({repo.page_url(index.equations[label], f'equation-{label}')})"
    raise EditionError(f"{docname}: the role {{{name}}} has no plain-Markdown rendering in scripts/colab_edition.py")


def _roles(tokens) -> list[tuple[str, str]]:
    """The roles (name, content) of a token stream, in the order of the text."""
    found = []
    for token in tokens:
        for child in token.children or []:
            if child.type == "myst_role":
                found.append((child.meta["name"], child.content))
    return found


def _replace_roles(text: str, roles: list[tuple[str, str]], docname: str, index: BookIndex) -> str:
    """``text`` with each role the tokenizer found rendered as plain Markdown."""
    out, position = [], 0
    for name, content in roles:
        literal = f"{{{name}}}`{content}`"
        at = text.find(literal, position)
        if at < 0:
            raise EditionError(f"{docname}: the role {literal!r} cannot be located in its source")
        out += [text[position:at], _role(name, content, docname, index)]
        position = at + len(literal)
    return "".join(out) + text[position:]


def _inline(text: str, docname: str, index: BookIndex) -> str:
    return _replace_roles(text, _roles(_parser().parseInline(text)), docname, index)


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split a directive body into its ``:key: value`` (or ``---`` YAML) options and its content."""
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        end = body.index("---", 1) if "---" in body[1:] else 0
        import yaml

        options = {k: str(v) for k, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
        body = body[end + 1:]
    while body and re.match(r"^\s*:[\w-]+:", body[0]):
        key, _, value = body.pop(0).strip()[1:].partition(":")
        options[key] = value.strip()
    while body and not body[0].strip():
        body.pop(0)
    return options, body


def _tag(latex: str, label: str | None, index: BookIndex) -> str:
    number = index.numbers.get(label) if label else None
    return latex.rstrip() + (f" \\tag{{{number}}}" if number else "")


def _directive(name: str, args: str, body: list[str], docname: str, index: BookIndex) -> list[str]:
    options, content = _options(body)
    if name == "math":
        latex = "\n".join(content).strip()
        return ["$$", _tag(latex, options.get("label"), index), "$$"]
    if name == "admonition" or name in ADMONITION_TITLES:
        title = _inline(args.strip(), docname, index) if name == "admonition" else (
            _inline(args.strip(), docname, index) or ADMONITION_TITLES[name])
        inner = _markdown_lines(content, docname, index)
        quoted = [f"> **{title}**", ">"] if title else []
        quoted += [f"> {line}" if line.strip() else ">" for line in inner]
        return quoted
    raise EditionError(f"{docname}: the directive {{{name}}} has no plain-Markdown rendering in "
                       "scripts/colab_edition.py; add one there")


DROPPED_BLOCKS = ("myst_target", "myst_line_comment", "myst_block_break", "front_matter")


def _block(tokens: list, source: list[str], docname: str, index: BookIndex) -> list[str]:
    """One top-level block (its tokens and source lines) as plain Markdown lines."""
    token = tokens[0]
    if token.type in DROPPED_BLOCKS:  # (label)= targets, % comments, +++ breaks
        return []
    if token.type in ("fence", "colon_fence"):
        info = token.info.strip()
        if not info.startswith("{"):
            return source  # plain code: copied verbatim
        name, _, args = info[1:].partition("}")
        return _directive(name.strip(), args, token.content.split("\n")[:-1], docname, index)
    if token.type in ("math_block", "math_block_label"):
        latex = token.content.strip("\n").split("\n")
        label = [_tag("", token.info.strip(), index).strip()] if token.type == "math_block_label" else []
        return ["$$", *latex, *[line for line in label if line], "$$"]
    return _replace_roles("\n".join(source), _roles(tokens), docname, index).split("\n")


def _markdown_lines(lines: list[str], docname: str, index: BookIndex) -> list[str]:
    """MyST lines -> plain Markdown lines, block by block as the MyST tokenizer splits them;
    the (blank) lines between blocks are kept."""
    tokens = _parser().parse("\n".join(lines))
    out, position, i = [], 0, 0
    while i < len(tokens):
        token = tokens[i]
        if token.level != 0 or token.map is None:
            i += 1
            continue
        j, depth = i, token.nesting
        while depth > 0:  # to the matching closing token
            j += 1
            depth += tokens[j].nesting
        start, end = token.map
        out += lines[position:start]
        out += _block(tokens[i:j + 1], lines[start:end], docname, index)
        position, i = end, j + 1
    return out + lines[position:]


def _outside_code(text: str) -> str:
    """Markdown without its code (fenced blocks and inline code spans: verbatim, MyST-looking or not)."""
    lines = text.split("\n")
    kept = []
    tokens = _parser().parse(text)
    code = {line for t in tokens if t.type in ("fence", "code_block") and not t.info.strip().startswith("{")
            and t.map for line in range(*t.map)}
    spans = [c.content for t in tokens for c in (t.children or []) if c.type == "code_inline"]
    for k, line in enumerate(lines):
        if k not in code:
            kept.append(line)
    out = "\n".join(kept)
    for span in spans:
        out = out.replace(f"`{span}`", "")
    return out


def colab_wording(text: str) -> str:
    """Replace each sentence that mentions the HTML book's *Show solution* button by the Colab
    instruction (solutions are collapsed form cells there)."""
    while "*Show solution*" in text:
        at = text.index("*Show solution*")
        start = max(text.rfind(". ", 0, at), text.rfind(".\n", 0, at), text.rfind("\n\n", 0, at))
        start = 0 if start < 0 else start + 2
        end = text.find(".", at + len("*Show solution*"))
        end = len(text) if end < 0 else end + 1
        text = text[:start] + SOLUTION_TEXT + text[end:]
    return text


def markdown(text: str, docname: str, index: BookIndex) -> str:
    """One Markdown cell of the book -> plain Jupyter Markdown."""
    converted = colab_wording("\n".join(_markdown_lines(text.split("\n"), docname, index)))
    leaks = [p for p in MYST_PATTERNS if p in _outside_code(converted)]
    if leaks:
        raise EditionError(f"{docname}: MyST markup {leaks} survived the conversion:\n{converted[:500]}")
    return re.sub(r"\n{3,}", "\n\n", converted).strip("\n")


# --------------------------------------------------------------------------- notebooks
def _markdown_cell(source: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source.splitlines(keepends=True)}


def form_title(cell: dict) -> str | None:
    """The title of the form cell a collapsed cell becomes (None: the cell is not collapsed).

    From the HTML book's toggle prompt ("Show solution" -> "Solution"), else from the tag."""
    tags = cell.get("metadata", {}).get("tags", [])
    if not any(tag in tags for tag in FORM_TAGS):
        return None
    prompt = cell.get("metadata", {}).get("mystnb", {}).get("code_prompt_show", "")
    title = prompt.removeprefix("Show ").strip() if prompt.startswith("Show ") else ""
    if not title:
        title = "Solution" if "hide-input" in tags else "the code behind the numbers in the text"
    return f"{title[0].upper()}{title[1:]} {FORM_HINT}"


def as_form(cell: dict, title: str) -> dict:
    """A code cell as a collapsed Colab form: ``# @title`` first, ``cellView: form``."""
    cell["source"] = [f"# @title {title}\n", *"".join(cell["source"]).splitlines(keepends=True)]
    cell["metadata"]["cellView"] = "form"
    return cell


def convert(notebook: dict, docname: str, index: BookIndex) -> dict:
    """A chapter (nbformat 4 dict, as stored) -> its Colab edition."""
    notebook = copy.deepcopy(notebook)
    setup = first_code_cell(notebook)
    cells = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown":
            cell["source"] = markdown("".join(cell["source"]), docname, index).splitlines(keepends=True)
            cells.append(cell)
            continue
        if cell["cell_type"] != "code":
            continue
        if cell is not setup and any(tag in tags for tag in DROP_TAGS):
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if cell is setup:
            cell["metadata"]["tags"] = [t for t in tags if t not in DROP_TAGS]
        elif form_title(cell):
            as_form(cell, form_title(cell))
        elif "glue(" in "".join(cell["source"]):
            raise EditionError(f"{docname}: cell {cell.get('id')} calls glue but the book shows it; "
                               "tag it hide-cell (collapsed) or remove-cell")
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
        cells.append(cell)
        if figure and figure.get("caption"):
            number = index.numbers.get(figure.get("name", ""))
            label = index.figure_format.replace("%s", number) if number else "Figure"
            caption = markdown(figure["caption"], docname, index).replace("\n", " ")
            cells.append(_markdown_cell(f"**{label}.** {caption}", f"{cell.get('id', 'fig')}-caption"[:64]))
    page = index.repo.page_url(docname)
    note = (f"*This is the Colab edition of [{index.titles.get(docname, docname)}]({page}), a chapter of "
            f"[{index.titles.get('book/index', 'the book')}]({index.repo.site}). Numbers in the text come from the "
            "book's last full build; the cells recompute them. The first code cell installs the book's package; "
            "the `parameters` cell sets the size of the run (`FAST = True` for a quick one) and `DEVICE` "
            "(*Runtime → Change runtime type → GPU* makes the full-size runs faster).*")
    first_markdown = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
    cells.insert(first_markdown + 1, _markdown_cell(note, "colab-edition-note"))
    notebook["cells"] = cells
    notebook.setdefault("metadata", {})["colab"] = {"name": f"{docname.split('/')[-1]}.ipynb", "provenance": []}
    return notebook


def myst_leaks(notebook: dict) -> list[str]:
    """MyST markup left anywhere in a notebook's Markdown cells (empty for a good edition)."""
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = _outside_code("".join(cell["source"]))
            found += [f"{p!r} in: {text[max(0, text.index(p) - 60):text.index(p) + 60]!r}"
                      for p in MYST_PATTERNS if p in text]
    return found


def write_edition(build: Path, out: Path, index: BookIndex | None = None) -> list[Path]:
    """Write every chapter's Colab edition under ``out`` (atomically: a finished folder or none)."""
    index = index or load_index(build)
    prefix = index.repo.path_to_book.strip("/")
    out = Path(out)
    staging = Path(tempfile.mkdtemp(dir=out.parent if out.parent.exists() else None, prefix=".colab-"))
    written = []
    try:
        for source in chapter_notebooks():
            docname = source.relative_to(ROOT).with_suffix("").as_posix()
            edition = convert(json.loads(source.read_text()), docname, index)
            target = staging / prefix / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(edition, indent=1, ensure_ascii=False) + "\n")
            written.append(out / prefix / source.relative_to(ROOT))
        (staging / "README.md").write_text(
            f"# Colab edition of {index.titles.get('book/index', 'the book')}\n\n"
            f"Generated by `make colab` from {index.repo.url} (do not edit): one plain-Jupyter notebook per "
            f"chapter, opened by the launch buttons of {index.repo.site}.\n")
        replace_folder(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build",
                        help="the Jupyter Book build folder to read (default: _build, the full build)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "colab", help="where to write the edition")
    args = parser.parse_args(argv)
    try:
        written = write_edition(args.build, args.out)
    except EditionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    repo = load_repository()
    for path in written:
        page = path.relative_to(args.out / repo.path_to_book.strip("/")).as_posix()
        print(f"{path}  ->  {repo.colab_link(page)} (once pushed to branch {repo.branch!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
