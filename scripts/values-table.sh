#!/usr/bin/env bash
# The values table of charts/nautobot-sync-operator/README.md, generated from the chart's
# values.yaml: one row per documented value, with its type, its default and the `# --` comment
# above it (helm-docs' convention: `# -- text` starts a description, the `#` lines below it
# continue it, `# @default -- text` replaces the default shown). A documented map stands for its
# undocumented entries; every other value must be documented.
#
# Usage: scripts/values-table.sh           print the table
#        scripts/values-table.sh --write   rewrite the table in the chart's README
#        scripts/values-table.sh --check   exit 1 if the README's table is stale or a value has no
#                                          description (scripts/check-chart.sh runs this)
#
# Needs python3 with PyYAML: $PYTHON, else python3 (scripts/check-chart.sh passes its venv's).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=print
case "${1:-}" in
  --write) MODE=write ;;
  --check) MODE=check ;;
  "") ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--write|--check]" >&2; exit 2 ;;
esac

exec "${PYTHON:-python3}" - "$MODE" charts/nautobot-sync-operator/values.yaml charts/nautobot-sync-operator/README.md <<'PY'
import json, re, sys
import yaml

mode, values_path, readme_path = sys.argv[1:4]
BEGIN = "<!-- values-table: generated from values.yaml by scripts/values-table.sh --write; do not edit by hand -->"
END = "<!-- /values-table -->"

def parse_comments(path):
    """key path (tuple) -> (description, @default or None), from the `# --` comments."""
    docs, stack = {}, []  # stack: (indent, key)
    desc, default = None, None
    key_re = re.compile(r'^(\s*)("[^"]+"|[A-Za-z0-9_./-]+):(\s|$)')
    for line in open(path, encoding="utf-8"):
        stripped = line.strip()
        if not stripped:
            desc, default = None, None
            continue
        if stripped.startswith("#"):
            text = stripped[1:]
            if text.startswith(" -- ") or text == " --":
                desc, default = [text[4:].strip()], None
            elif text.startswith(" @default -- ") and desc is not None:
                default = text[len(" @default -- "):].strip()
            elif desc is not None:
                desc.append(text.strip())
            continue
        m = key_re.match(line)
        if m:
            indent, key = len(m.group(1)), m.group(2).strip('"')
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path_ = tuple(k for _, k in stack) + (key,)
            if desc is not None:
                docs[path_] = (" ".join(d for d in desc if d), default)
            stack.append((indent, key))
        desc, default = None, None
    return docs

def type_of(v):
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object",
            type(None): "null"}[type(v)]

def cell(text):
    return text.replace("|", "\\|")

def table():
    values = yaml.safe_load(open(values_path, encoding="utf-8"))
    docs = parse_comments(values_path)
    rows, missing = [], []

    def walk(node, path, covered):
        documented = path in docs
        if path:
            is_map = isinstance(node, dict) and node
            has_docs_below = is_map and any(p[:len(path)] == path and len(p) > len(path) for p in docs)
            if documented:
                desc, default = docs[path]
                shown = default if default is not None else ("see below" if has_docs_below else f"`{json.dumps(node)}`")
                rows.append((".".join(path), type_of(node), shown, desc))
            elif not is_map and not covered:
                missing.append(".".join(path))
            if not is_map or (documented and not has_docs_below):
                return
            covered = covered or (documented and not has_docs_below)
        for k, v in node.items():
            walk(v, path + (k,), covered)

    walk(values, (), False)
    out = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    out += [f"| `{k}` | {t} | {cell(d)} | {cell(x)} |" for k, t, d, x in rows]
    return "\n".join(out) + "\n", missing

def readme_with(text, tbl):
    if BEGIN not in text or END not in text:
        sys.exit(f"values-table: {readme_path} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tbl}{END}{tail}"

tbl, missing = table()
if missing:
    print(f"values-table: values without a `# --` description in {values_path}: {', '.join(missing)}", file=sys.stderr)
if mode == "print":
    sys.stdout.write(tbl)
    sys.exit(1 if missing else 0)
text = open(readme_path, encoding="utf-8").read()
new = readme_with(text, tbl)
if mode == "write":
    if new != text:
        open(readme_path, "w", encoding="utf-8").write(new)
        print(f"values-table: rewrote the table in {readme_path}")
    sys.exit(1 if missing else 0)
if new != text:
    print(f"values-table: the table in {readme_path} is stale (scripts/values-table.sh --write)", file=sys.stderr)
    sys.exit(1)
sys.exit(1 if missing else 0)
PY
