"""The trail from a formula to its proof stays whole: docstring -> docs/derivations.md -> source and tests.

A student starts from help() on a layer, loss or optimizer; its docstring names a section of
docs/derivations.md and a test file; the section names the source and the tests; the test file
points back. These tests fail when any link of that chain is renamed or removed, when a
section loses its "What the code computes", or when a step cited in the code is not in the
module's own numbered derivation.
"""
import ast
import inspect
import pathlib
import re

import pytest

import minigan as mg
from minigan import losses, optim
from minigan.nn import reference

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "derivations.md"
TEXT = DOCS.read_text()
HEADINGS = {m.group(1).strip() for m in re.finditer(r"^#{2,3} (.+)$", TEXT, flags=re.M)}
NOT_DERIVATIONS = {"How the checker proves a derivation", "Layout note"}


def _documented():
    layers = [getattr(mg.nn, name) for name in mg.nn.__all__ if name not in ("Layer", "Parameter", "init")]
    return layers + list(losses._CLASSES.values()) + [losses.softmax_cross_entropy, optim.Adam, optim.SGD,
                                                      mg.penalties.gradient_penalty]


def _line(doc, label):
    return next((line for line in doc.splitlines() if label in line), None)


@pytest.mark.parametrize("obj", _documented(), ids=lambda obj: obj.__name__)
def test_every_public_layer_loss_and_optimizer_points_to_its_derivation_and_tests(obj):
    doc = inspect.getdoc(obj) or ""
    derivation = _line(doc, "Derivation: docs/derivations.md, ")
    assert derivation, f"{obj.__name__}'s docstring names no section of docs/derivations.md"
    sections = re.findall(r'"([^"]+)"', derivation)
    assert sections and set(sections) <= HEADINGS, f"{obj.__name__} names missing sections {set(sections) - HEADINGS}"
    tests = re.search(r"Tests: (tests/[\w/]*test_\w+\.py)", doc)
    assert tests, f"{obj.__name__}'s docstring names no test file"
    test_file = ROOT / tests.group(1)
    assert test_file.exists(), f"{obj.__name__} names {tests.group(1)}, which does not exist"
    points_back = ast.get_docstring(ast.parse(test_file.read_text())) or ""
    assert "docs/derivations.md" in points_back and any(f'"{s}"' in points_back for s in sections), \
        f"{tests.group(1)} does not point back to {sections}"


@pytest.mark.parametrize("cls", [obj for obj in _documented() if isinstance(obj, type) and hasattr(obj, "backward")],
                         ids=lambda cls: cls.__name__)
def test_every_backward_has_a_docstring(cls):
    assert cls.backward is not mg.nn.Layer.backward and inspect.getdoc(cls.backward), \
        f"{cls.__name__}.backward has no docstring"


@pytest.mark.parametrize("cls", [obj for obj in _documented() if isinstance(obj, type) and hasattr(obj, "tangent")],
                         ids=lambda cls: cls.__name__)
def test_every_tangent_has_a_docstring_that_names_its_step_or_test(cls):
    doc = inspect.getdoc(cls.tangent) or ""
    assert re.search(r"\bstep \d", doc) or "Tests: " in doc, f"{cls.__name__}.tangent names no step and no test"


def _sections():
    parts = re.split(r"^## (.+)$", TEXT, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("title", [t for t in _sections() if t not in NOT_DERIVATIONS])
def test_every_section_says_what_the_code_computes_where_and_what_proves_it(title):
    body = _sections()[title]
    for marker in ("**What the code computes**", "**Source**", "**Confirmed by**"):
        assert marker in body, f'section "{title}" has no {marker}'
    source = body[body.index("**Source**"):].splitlines()[0]
    for path in re.findall(r"`(minigan/[\w/.]+\.py)`", source):
        assert (ROOT / path).exists(), f'section "{title}" names {path}, which does not exist'
    for path in re.findall(r"`(tests/[\w/]*test_\w+\.py)", body):
        assert (ROOT / path).exists(), f'section "{title}" names {path}, which does not exist'


def test_the_definitions_quoted_in_the_docs_are_the_code():
    blocks = re.findall(r"from `minigan/nn/reference.py`:\n\n```python\n(.*?)```", TEXT, flags=re.S)
    assert len(blocks) == 2
    source = inspect.getsource(reference)
    for block in blocks:
        assert block in source, "docs/derivations.md quotes a definition that minigan/nn/reference.py no longer has"


MODULES_WITH_STEPS = ["nn/batchnorm.py", "nn/conv.py", "nn/dense.py", "nn/activations.py", "nn/shape.py",
                      "nn/spectral_norm.py", "nn/augment.py",
                      "losses.py", "optim/optimizers.py", "gan/game.py", "gan/penalties.py"]


@pytest.mark.parametrize("module", MODULES_WITH_STEPS)
def test_every_step_the_code_cites_is_in_its_module_docstring(module):
    path = pathlib.Path(mg.__file__).parent / module
    text = path.read_text()
    numbered = {int(n) for n in re.findall(r"^\s*(\d+)\. ", ast.get_docstring(ast.parse(text)), flags=re.M)}
    cited = set()
    for first, last in re.findall(r"\bsteps? (\d+)(?:-(\d+))?", text):
        cited |= set(range(int(first), int(last or first) + 1))
    assert cited, f"{module} cites no step"
    assert cited <= numbered, f"{module} cites steps {sorted(cited - numbered)} that its docstring does not number"
