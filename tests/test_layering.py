"""The data-flow rule of ../shared/DESIGN.md, read from the imports: files -> arrays -> model -> predictions
-> submission, and no module reaches back up the flow."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kitlib"
TRAINING = {"train", "keras", "fitting", "hpo"}
LOWER = {"data", "folds", "embed"}


def kitlib_imports(path: Path) -> set[str]:
    """The kitlib modules ``path`` imports (at any depth, lazily or not), as dotted names below kitlib."""
    here = path.relative_to(PACKAGE).with_suffix("").parts
    package = here[:-1]  # the package a relative import starts from (for __init__.py: its own)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name[len("kitlib."):] for a in node.names if a.name.startswith("kitlib.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [".".join(base + [a.name]) for a in node.names]
                found |= {n for n in names if n}
            elif node.module and node.module.startswith("kitlib"):
                target = node.module[len("kitlib."):] if node.module != "kitlib" else ""
                found |= {target} if target else {a.name for a in node.names}
    return found


def modules(prefix: str = "") -> list[Path]:
    root = PACKAGE / prefix if prefix else PACKAGE
    return sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_import_reader_sees_relative_and_lazy_imports(tmp_path):
    imports = kitlib_imports(PACKAGE / "embed.py")
    assert {"errors", "pretrained", "runtime"} <= imports


@pytest.mark.parametrize("path", modules("metrics"), ids=lambda p: p.name)
def test_metrics_import_nothing_of_ours(path):
    assert {top(m) for m in kitlib_imports(path)} <= {"metrics"}, path


@pytest.mark.parametrize("name", sorted(LOWER))
def test_data_folds_embed_import_no_training_submit_run_or_competition(name):
    bad = {top(m) for m in kitlib_imports(PACKAGE / f"{name}.py")} & (TRAINING | {
        "submit", "run", "execute", "competitions", "kernel", "platforms", "tasks", "plots"})
    assert not bad, f"kitlib/{name}.py imports {sorted(bad)}"


def test_submit_imports_no_training_code_or_kernel():
    bad = {top(m) for m in kitlib_imports(PACKAGE / "submit.py")} & (TRAINING | {"kernel", "embed", "tasks"})
    assert not bad, f"kitlib/submit.py imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("tasks"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_tasks_never_import_a_competition(path):
    bad = {top(m) for m in kitlib_imports(path)} & {"competitions", "submit", "run", "execute", "kernel", "platforms"}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


@pytest.mark.parametrize("name", ["runtime", "errors", "fitting", "pretrained"])
def test_the_bottom_of_the_flow_imports_only_the_bottom(name):
    assert {top(m) for m in kitlib_imports(PACKAGE / f"{name}.py")} <= {"errors", "runtime"}, name


def test_no_module_function_strings_remain():
    import re

    pattern = re.compile(r"""["']kitlib(\.[a-z_]+)+:[a-z_]+["']""")
    hits = [str(p.relative_to(PACKAGE)) for p in modules() if pattern.search(p.read_text())]
    assert hits == []


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in modules() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


# ------------------------------------------------------------------------- the shape: circles, faces, signatures
def module_file(dotted: str) -> Path | None:
    """The file of the kitlib module ``dotted`` (below kitlib, "" for kitlib itself): ``a/b.py`` or
    ``a/b/__init__.py``; None when it is not a module (a name imported from a module)."""
    base = PACKAGE.joinpath(*dotted.split(".")) if dotted else PACKAGE
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def import_edges(path: Path) -> set[Path]:
    """The kitlib files ``path`` imports, at any depth (lazy imports too): ``from .m import x`` is an edge to
    ``m``; ``from . import x`` (and ``from kitlib.p import x``) an edge to the package ``p``'s ``__init__``, as
    the issue that set the rule counts them; ``import kitlib.a.b`` an edge to ``a/b``."""
    here = path.relative_to(PACKAGE).with_suffix("").parts
    package = here[:-1]
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name[len("kitlib."):] for a in node.names if a.name.startswith("kitlib.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                targets = [".".join(base + ([node.module] if node.module else []))]
            elif node.module and (node.module == "kitlib" or node.module.startswith("kitlib.")):
                targets = [node.module[len("kitlib."):] if node.module != "kitlib" else ""]
        for target in targets:
            file = module_file(target)
            if file is not None:
                found.add(file)
    found.discard(path)
    return found


def import_circles() -> list[list[str]]:
    """Every strongly connected set of two or more kitlib files in the import graph (Tarjan)."""
    files = modules()
    graph = {f: import_edges(f) for f in files}
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: Path) -> None:
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
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(str(w.relative_to(PACKAGE)))
                if w == v:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for f in files:
        if f not in index:
            visit(f)
    return circles


def test_the_circle_finder_sees_a_circle(tmp_path, monkeypatch):
    package = tmp_path / "kitlib"
    (package / "p").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "p" / "__init__.py").write_text("from .a import x\n")
    (package / "p" / "a.py").write_text("def x():\n    from . import b\n")
    (package / "p" / "b.py").write_text("from . import y\n")  # an edge to p/__init__.py
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    assert import_circles() == [["p/__init__.py", "p/a.py"]]  # b.py only points at the face: no circle


def test_no_import_circles():
    assert import_circles() == []


def test_competitions_never_import_run_or_execute():
    bad = {str(p.relative_to(PACKAGE)): sorted({top(m) for m in kitlib_imports(p)} & {"run", "execute"})
           for p in modules("competitions")}
    assert {k: v for k, v in bad.items() if v} == {}


FACE_EXCEPTIONS = {"competitions/__init__.py": {"get_competition"}}  # the registry table and its lookup


@pytest.mark.parametrize("path", [p for p in modules() if p.name == "__init__.py"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_package_faces_only_re_export(path):
    """No ``def`` or ``class`` in a package's ``__init__.py`` (a lazy ``__getattr__`` included)."""
    allowed = FACE_EXCEPTIONS.get(str(path.relative_to(PACKAGE)), set())
    defined = [node.name for node in ast.parse(path.read_text()).body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name not in allowed]
    assert defined == []


@pytest.mark.parametrize("path", [p for p in modules() if p.name != "__init__.py" and p.parent != PACKAGE],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_its_own_package_face(path):
    """``from .module import name``, never ``from . import name`` (the package's ``__init__``)."""
    package = "kitlib." + ".".join(path.relative_to(PACKAGE).parent.parts)
    bad = [ast.unparse(node) for node in ast.walk(ast.parse(path.read_text()))
           if isinstance(node, ast.ImportFrom) and ((node.level == 1 and node.module is None)
                                                     or (node.level == 0 and node.module == package))]
    assert bad == []


MAX_PARAMETERS = 12
KWARGS_ALLOWED = {  # where **kwargs is the contract, not a way to hide parameters
    "tasks/multiple_choice.py:forward",  # a Hugging Face batch: model(**batch)
    "competitions/tell_the_time/render.py:clean_style",  # overrides of one dataclass
    "competitions/tell_the_time/heads.py:__init__",  # a Keras layer hands its config to keras.layers.Layer
    "data.py:read_csv",  # pandas.read_csv's options, passed through
    "fitting.py:from_params",  # Recipe.from_params(params, **overrides): fields of the recipe
    "execute.py:__init__",  # jupyter_client's KernelManager takes its traitlets configuration as keywords
    "execute.py:_async_launch_kernel",  # ... and hands the launch options through to its parent
    "run.py:update_manifest",  # the manifest is an open JSON record: fields by name, written as given
}


def signatures() -> list[tuple[str, str, int, bool]]:
    """``(file, function, parameters other than self/cls, has **kwargs)`` for every function in kitlib."""
    out = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
                count = len(names) + bool(a.vararg) + bool(a.kwarg)
                out.append((str(path.relative_to(PACKAGE)), node.name, count, a.kwarg is not None))
    return out


def test_the_signature_reader_counts_parameters():
    found = {(f, n): c for f, n, c, _ in signatures()}
    assert found[("errors.py", "check_choice")] >= 3


def test_no_function_takes_more_than_12_parameters():
    long = sorted(f"{f}:{n} ({c})" for f, n, c, _ in signatures() if c > MAX_PARAMETERS)
    assert long == []


def test_kwargs_is_not_a_way_out():
    hidden = sorted(f"{f}:{n}" for f, n, _, kwarg in signatures() if kwarg and f"{f}:{n}" not in KWARGS_ALLOWED)
    assert hidden == []


def kit_variables(path: Path) -> set[str]:
    """The ``KIT_*`` environment variables ``path`` reads or writes: string constants that are exactly such a
    name, and ``environ``/``getenv`` calls naming one inside a longer string (code baked into a notebook)."""
    import re

    text = path.read_text()
    names = {node.value for node in ast.walk(ast.parse(text))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and re.fullmatch(r"KIT_[A-Z0-9_]+", node.value)}
    return names | set(re.findall(r"""(?:environ\S*|getenv)\(?\[?["'](KIT_[A-Z0-9_]+)""", text))


def test_kit_variables_are_read_in_runtime_only():
    elsewhere = {str(p.relative_to(PACKAGE)): sorted(kit_variables(p)) for p in modules()
                 if p.name != "runtime.py" and kit_variables(p)}
    assert elsewhere == {}


def test_the_readme_lists_every_kit_variable():
    readme = (PACKAGE.parent / "README.md").read_text()
    missing = sorted(v for v in kit_variables(PACKAGE / "runtime.py") if f"`{v}`" not in readme)
    assert missing == []
