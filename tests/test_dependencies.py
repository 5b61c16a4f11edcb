"""pyproject.toml, requirements/constraints.txt and environment.yml name the same dependencies."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from the PyPI name (matplotlib-base is matplotlib without Qt)
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
# never pinned for the notebooks, never a runtime or test dependency
FRAMEWORKS = {"torch", "keras", "jax", "jaxlib", "tensorflow", "torchvision", "nvidia-cudnn-cu12"}


def load_pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def declared(*groups: str) -> dict[str, Requirement]:
    """Requirements of pyproject.toml: 'runtime' and/or extras by name; canonical name -> req."""
    project = load_pyproject()["project"]
    found = {}
    for group in groups:
        texts = (
            project["dependencies"]
            if group == "runtime"
            else project["optional-dependencies"][group]
        )
        for text in texts:
            req = Requirement(text)
            found[canonicalize_name(req.name)] = req
    return found


def parse_constraints(text: str) -> list[tuple[str, str, str]]:
    """(canonical name, version, line) for every pin; raises on a line that is not name==version."""
    pins = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        if not match:
            raise ValueError(
                f"constraints line {number} is not an exact pin name==version: {raw!r}"
            )
        pins.append((canonicalize_name(match.group(1)), match.group(2), raw))
    return pins


def constraints() -> dict[str, str]:
    text = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    return {name: version for name, version, _ in parse_constraints(text)}


def conda_spec(text: str) -> tuple[str, SpecifierSet]:
    """'numpy>=1.24' or 'python=3.11' (conda match spec) -> (PyPI canonical name, SpecifierSet)."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*", text)
    if not match:
        raise ValueError(f"cannot read conda spec {text!r}")
    name, spec = match.group(1), match.group(2).replace(" ", "")
    spec = re.sub(r"(?<![<>=!~])=(?!=)([^,]+)", r"==\1.*", spec)  # conda's =X means X.*
    return canonicalize_name(CONDA_TO_PYPI.get(name, name)), SpecifierSet(spec)


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def environment_specs() -> dict[str, SpecifierSet]:
    """Every dependency of environment.yml, conda and pip, as PyPI name -> specifier."""
    specs = {}
    for entry in environment()["dependencies"]:
        if isinstance(entry, dict):
            for text in entry.get("pip", []):
                req = Requirement(text)
                specs[canonicalize_name(req.name)] = req.specifier
        else:
            name, spec = conda_spec(entry)
            specs[name] = spec
    return specs


# ------------------------------------------------------------------ the constraints file


def test_constraints_file_holds_only_exact_unique_sorted_pins():
    text = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    pins = parse_constraints(text)
    names = [name for name, _, _ in pins]
    assert len(pins) > 20, "the constraints file should pin the whole dependency closure"
    assert len(names) == len(set(names)), "a package is pinned twice"
    assert names == sorted(names), (
        "pins are not in name order (regenerate with tools/freeze_constraints.py)"
    )


def test_parse_constraints_rejects_ranges():
    with pytest.raises(ValueError, match="exact pin"):
        parse_constraints("numpy>=1.24\n")


@pytest.mark.parametrize("group", ["runtime", "test", "teach"])
def test_every_runtime_and_test_dependency_is_pinned_compatibly(group):
    pins = constraints()
    for name, req in declared(group).items():
        assert name in pins, f"{req} ({group}) is not pinned in requirements/constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"pinned {name}=={pins[name]} does not satisfy pyproject's {req}"
        )


def test_frameworks_and_the_package_itself_are_not_pinned():
    pins = constraints()
    assert not FRAMEWORKS & set(pins), (
        f"framework packages pinned: {sorted(FRAMEWORKS & set(pins))}"
    )
    assert "lstm-lab" not in pins, "the local package must not be in the constraints file"


def test_frameworks_only_in_the_parity_extra():
    runtime_and_test = declared("runtime", "test")
    assert not FRAMEWORKS & set(runtime_and_test), (
        "torch/keras/jax must not be runtime or test deps"
    )
    parity = declared("parity")
    assert {"torch", "keras"} <= set(parity)
    assert str(parity["torch"].specifier) == "==2.13.0", "torch must be pinned exactly (CPU build)"


def test_nbgrader_only_in_the_teach_extra_and_pinned_exactly():
    """Students never need nbgrader; teachers (and CI) get the exact version the notebooks'
    nbgrader metadata and the grading workflow test are written against."""
    assert "nbgrader" not in declared("runtime", "test")
    teach = declared("teach")
    assert str(teach["nbgrader"].specifier) == "==0.9.6"
    assert constraints()["nbgrader"] == "0.9.6"


def test_ci_installs_the_teach_extra():
    """tools/_venv.sh (which .ci/run and tools/test use) installs [test,teach], so that a
    missing nbgrader fails the grading workflow test in CI instead of going unnoticed."""
    text = (ROOT / "tools" / "_venv.sh").read_text(encoding="utf-8")
    assert '-e "$REPO[test,teach]"' in text


def test_constraints_match_the_installed_closure():
    """In the pinned environment, the file equals what tools/freeze_constraints.py writes.

    This catches a transitive dependency that is installed but not pinned (or pinned but no
    longer needed). Outside the pinned environment there is nothing to compare, so it skips.
    """
    pins = constraints()
    drift = []
    for name, version in pins.items():
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            installed = None
        if installed != version:
            drift.append(f"{name}: {installed} installed, {version} pinned")
    if drift:
        pytest.skip("not the pinned environment: " + "; ".join(drift[:3]))
    spec = importlib.util.spec_from_file_location(
        "freeze", ROOT / "tools" / "freeze_constraints.py"
    )
    freeze = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(freeze)
    expected = freeze.render(freeze.closure(freeze.root_requirements()))
    actual = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    missing = sorted(set(expected.splitlines()) - set(actual.splitlines()))
    extra = sorted(set(actual.splitlines()) - set(expected.splitlines()))
    assert actual == expected, f"constraints out of date: missing {missing}, not needed {extra}"


# ------------------------------------------------------------------ environment.yml


def test_environment_yml_is_conda_forge_and_installs_nothing_from_the_repo():
    env = environment()
    assert env["channels"] == ["conda-forge"]
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for text in entry.get("pip", []):
                assert not text.startswith(("-e", ".", "/")), f"environment.yml installs {text!r}"
                Requirement(text)  # a plain requirement, not a path or URL


def test_binder_reads_the_same_environment():
    """repo2docker ignores the root's environment.yml once binder/ exists: keep a same copy."""
    root = (ROOT / "environment.yml").read_text(encoding="utf-8")
    binder = (ROOT / "binder" / "environment.yml").read_text(encoding="utf-8")
    assert binder == root, "binder/environment.yml differs from environment.yml: copy it over"


def test_environment_yml_lists_exactly_the_runtime_and_test_dependencies():
    in_env = set(environment_specs()) - {"python", "pip"}
    wanted = set(declared("runtime", "test"))
    assert in_env == wanted, (
        f"only in environment.yml: {sorted(in_env - wanted)}; "
        f"only in pyproject.toml: {sorted(wanted - in_env)}"
    )


def test_environment_yml_versions_agree_with_pyproject_and_constraints():
    pins = constraints()
    specs = environment_specs()
    for name, req in declared("runtime", "test").items():
        assert specs[name] == req.specifier, (
            f"{name}: environment.yml asks {specs[name]}, pyproject.toml {req.specifier}"
        )
        assert specs[name].contains(pins[name], prereleases=True), (
            f"{name}: pinned {pins[name]} is outside environment.yml's {specs[name]}"
        )


def test_environment_yml_python_satisfies_requires_python():
    python = environment_specs()["python"]
    requires = SpecifierSet(load_pyproject()["project"]["requires-python"])
    version = re.search(r"\d+(?:\.\d+)*", str(python)).group(0)
    assert requires.contains(version), (
        f"environment.yml python {python} vs requires-python {requires}"
    )


def test_conda_spec_reads_conda_syntax():
    assert conda_spec("python=3.11") == ("python", SpecifierSet("==3.11.*"))
    assert conda_spec("matplotlib-base >=3.7") == ("matplotlib", SpecifierSet(">=3.7"))
    assert conda_spec("numpy") == ("numpy", SpecifierSet(""))
