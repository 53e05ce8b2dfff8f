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
