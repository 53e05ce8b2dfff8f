"""Every competition the kit carries is complete: a notebook with the required parameters, real callables
for its hooks, a demo generator that returns its folder, a test module, and a notebook short and narrow enough
to read (the templates `kit new` writes notebooks from too)."""
import inspect
import json
import re
from pathlib import Path

import pytest

import kitlib
from kitlib.competitions import BUILT_IN, COMPETITIONS, Competition, get_competition
from kitlib.errors import ParameterError
from kitlib.execute import notebook_parameters

TESTS = Path(__file__).resolve().parent
REQUIRED = {"data_dir", "seed", "smoke", "device", "submit", "force_submit", "track"}
MAX_CODE_LINES = 110  # non-blank lines of code outside the parameters cell
MAX_LINE_CHARS = 110  # characters in any line of code, the parameters cell included
TEMPLATES = sorted((Path(kitlib.__file__).resolve().parent / "templates").glob("*.ipynb"))  # kit new's


def module_name(comp: Competition) -> str:
    return comp.name.replace("-", "_")


@pytest.fixture(params=BUILT_IN, ids=lambda c: c.name)
def comp(request) -> Competition:
    return request.param


def test_the_registry_is_an_explicit_table_of_modules_named_after_their_competition():
    import kitlib.competitions as package

    for c in BUILT_IN:
        module = getattr(package, module_name(c))
        assert module.COMPETITION is c and COMPETITIONS[c.name] is c
    with pytest.raises(ParameterError, match=r"Unknown competition 'nope'; expected one of \['image-classification'"):
        get_competition("nope")


def test_the_notebook_exists_and_declares_the_required_parameters(comp):
    assert comp.notebook_path.is_file(), comp.notebook_path
    declared = notebook_parameters(comp.notebook_path)
    assert set(declared) >= REQUIRED, sorted(REQUIRED - set(declared))
    for name, info in declared.items():
        assert info.get("help"), f"{comp.notebook_path.name}: parameter {name!r} has no help comment"


def test_the_hooks_are_callables(comp):
    spec = comp.submission
    for hook in (comp.demo, spec.check, spec.pack):
        assert hook is None or callable(hook)
    if spec.check is not None:
        assert list(inspect.signature(spec.check).parameters)[:2] == ["path", "data_dir"]


def test_the_demo_generator_returns_its_folder(comp, tmp_path):
    if comp.demo is None:
        pytest.skip(f"{comp.name} needs no demo files")
    assert Path(comp.demo(comp.demo_dir)) == comp.demo_dir
    assert any(p.is_file() and not p.name.startswith(".") and p.name != "README.md" for p in comp.demo_dir.iterdir())


def test_a_test_module_exists(comp):
    assert (TESTS / "competitions" / f"test_{module_name(comp)}.py").is_file()


def assert_short_narrow_and_clean(path: Path) -> None:
    """At most MAX_CODE_LINES code lines, none wider than MAX_LINE_CHARS, no outputs, a python3 kernel."""
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    lines = sum(1 for c in code if "parameters" not in c.get("metadata", {}).get("tags", [])
                for line in "".join(c["source"]).splitlines() if line.strip())
    assert lines <= MAX_CODE_LINES, f"{path.name}: {lines} code lines"
    wide = [f"cell {i}: {len(line)} characters: {line[:60]}..." for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines() if len(line) > MAX_LINE_CHARS]
    assert not wide, f"{path.name}: code lines over {MAX_LINE_CHARS} characters: {wide}"


def test_the_notebook_stays_short_narrow_and_is_committed_clean(comp):
    assert_short_narrow_and_clean(comp.notebook_path)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_the_templates_stay_short_narrow_and_are_committed_clean(template):
    assert_short_narrow_and_clean(template)


def test_the_templates_are_found():
    assert "tabular.ipynb" in [p.name for p in TEMPLATES]


def test_parameter_comments_hold_no_equals_sign(comp):
    """papermill silently drops a parameter line whose comment contains '='."""
    nb = json.loads(comp.notebook_path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    for line in "".join(cell["source"]).splitlines():
        assert "=" not in line.partition("#")[2], line
    assert len(notebook_parameters(comp.notebook_path)) == sum(
        1 for line in "".join(cell["source"]).splitlines() if re.match(r"^\w+\s*:", line))
