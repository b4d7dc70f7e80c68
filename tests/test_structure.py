"""The package's shape: no import cycles, one home for video reading and for landmark indices."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import auengine

PACKAGE = Path(auengine.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, top_level_only: bool) -> set[str]:
    """auengine modules imported by one module (all imports, or only those run at import time)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                module = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("auengine"):
                module = node.module
            else:
                continue
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)    # `from pkg import module`
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def _group(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_package_cycles_even_through_lazy_imports():
    graph: dict[str, set[str]] = {}
    for name, path in _modules().items():
        for target in _imports(name, path, top_level_only=False):
            a, b = _group(name), _group(target)
            if a != b and b != "auengine":
                graph.setdefault(a, set()).add(b)
    assert _cycles(graph) == []


def test_no_module_cycles_even_through_lazy_imports():
    """A lazy (in-function) import that closes a cycle still ties two modules into one: none allowed."""
    modules = _modules()
    graph = {name: {t for t in _imports(name, path, top_level_only=False) if t in modules and t != name}
             for name, path in modules.items()}
    assert _cycles(graph) == []


def test_video_is_opened_only_by_the_video_layer():
    opened = [name for name, path in _modules().items() if "VideoCapture(" in path.read_text()]
    assert opened == ["auengine.io.video"]


def test_eye_indices_live_in_face_geometry():
    """Slices like [36:42] / [42:48] (eye points) are written once, in face_geometry."""
    pattern = re.compile(r"\[\s*:?,?\s*36\s*:\s*42|\[\s*:?,?\s*42\s*:\s*48|range\(36, 42\)|range\(42, 48\)")
    users = [name for name, path in _modules().items() if pattern.search(path.read_text())]
    assert users == ["auengine.face_geometry"]


def test_bundle_fields_are_read_through_its_properties():
    """A bundle's scale and synthetic flag come from Bundle.scale / Bundle.synthetic, never the raw manifest."""
    raw = re.compile(r"""manifest\[["'](scale|training_data)["']\]|manifest\.get\(["'](scale|training_data)["']""")
    readers = [name for name, path in _modules().items() if raw.search(path.read_text())]
    assert readers == ["auengine.bundle"]


def _written_layers() -> dict[str, int]:
    """docs/architecture.md's import layering: top-level module or package name -> layer number."""
    text = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    block = text.split("## Import layering", 1)[1].split("```", 2)[1]
    layers, current = {}, None
    for line in block.splitlines():
        match = re.match(r"\s*(\d+)?\s+(.*)", line)
        if not match or not match.group(2):
            continue
        current = int(match.group(1)) if match.group(1) else current
        for name in re.findall(r"([a-z_]+)(?:/|\.py)", match.group(2).split("  ")[0] if match.group(1) else
                               match.group(2)):
            layers[name] = current
    return layers


def test_imports_follow_the_written_layering():
    """No module imports a higher layer than its own (docs/architecture.md), and every part has a layer."""
    layers = _written_layers()
    parts = {name.split(".")[1] for name in _modules() if name.count(".") >= 1}
    assert parts - {"__main__"} <= set(layers), f"not in docs/architecture.md's layering: {parts - set(layers)}"
    upward = []
    for name, path in _modules().items():
        if name.count(".") < 1:
            continue
        own = layers[name.split(".")[1]]
        for target in _imports(name, path, top_level_only=False):
            part = target.split(".")[1] if target.count(".") >= 1 else None
            if part in layers and layers[part] > own:
                upward.append(f"{name} -> {target}")
    assert upward == []
