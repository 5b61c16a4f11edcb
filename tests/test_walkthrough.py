"""Checks on the walkthrough notebooks 00-06 and the appendix 90 that nbval does not make.

nbval re-runs the notebooks and compares their outputs; these tests read the committed files and
check what a reader and the lab's rules need: every cell executed in order with no error, the
package imported as ``ll`` and no star import, English-only code (figure text), Korean terms beside
the English ones, a closing questions section followed by a collapsed cell of model answers in
every step notebook, each step's explorer displayed with its widget state saved, fixed seeds,
working links between notebooks, and the claims each notebook is built around checked by code
inside it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

WALKTHROUGH = (
    "00_start_here",
    "01_rnn_and_long_term_dependencies",
    "02_forget_gate",
    "03_input_gate",
    "04_cell_state_update",
    "05_output_gate",
    "06_the_full_lstm",
)
APPENDIX = ("90_framework_layouts",)
NOTEBOOKS_CHECKED = WALKTHROUGH + APPENDIX
STEPS = WALKTHROUGH[1:] + APPENDIX  # the notebooks that end with questions
# the notebooks after the walkthrough: they end with questions and collapsed answers too
LATER = ("07_vanishing_gradients", "08_training_long_range", "09_variants", "10_sequence_shapes",
         "11_inside_a_trained_lstm", "12_which_gate_matters", "13_attention")

# the explorer each notebook builds (lstm_lab.widgets class name); 00 and 90 show none
# every main notebook from 01 on shows at least one explorer, each answering a question (00 and
# the appendix notebooks 9x are exempt)
EXPLORER_OF = {
    "01_rnn_and_long_term_dependencies": ("ChainExplorer", "RNNMemoryExplorer"),
    "02_forget_gate": ("ForgetGateExplorer",),
    "03_input_gate": ("InputGateExplorer",),
    "04_cell_state_update": ("CellUpdateExplorer",),
    "05_output_gate": ("OutputGateExplorer",),
    "06_the_full_lstm": ("LSTMExplorer",),
    "07_vanishing_gradients": ("ChainExplorer", "MemorySpanExplorer"),
    "08_training_long_range": ("TrainingExplorer",),
    "09_variants": ("LSTMVariantExplorer", "GRUExplorer"),
    "10_sequence_shapes": ("ShapesExplorer",),
    "11_inside_a_trained_lstm": ("UnitExplorer",),
    "12_which_gate_matters": ("LSTMVariantExplorer",),
    "13_attention": ("AttentionExplorer",),
}

# Korean terms (from the source documents' glossary) that must appear in the markdown of the
# notebook that introduces the English term
KOREAN_FIRST_USE = {
    "00_start_here": ("장단기 메모리",),
    "01_rnn_and_long_term_dependencies": (
        "순환 신경망", "은닉 상태", "장기 의존성 문제", "기울기 소실"),
    "02_forget_gate": ("셀 상태", "삭제 게이트", "망각 게이트", "메모리 셀"),
    "03_input_gate": ("입력 게이트",),
    "04_cell_state_update": ("하다마르 곱",),
    "05_output_gate": ("출력 게이트",),
}
GLOSSARY = (
    "순환 신경망", "장기 의존성 문제", "은닉 상태", "셀 상태", "메모리 셀", "입력 게이트",
    "삭제 게이트", "망각 게이트", "출력 게이트", "하다마르 곱", "기울기 소실", "리셋 게이트",
    "업데이트 게이트", "양방향 RNN",
)

HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_CLASSES = ("RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell", "CoupledLSTMCell")


def load(stem: str):
    return nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def markdown_text(nb) -> str:
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def code_text(nb) -> str:
    return "\n\n".join(cell.source for cell in code_cells(nb))


def text_outputs(nb):
    """(cell index, mime type or stream name, text) of every stored text output."""
    for k, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                yield k, output.name, output.text
            elif output.output_type in ("display_data", "execute_result"):
                for mime, value in output.get("data", {}).items():
                    if mime.startswith("text/"):
                        yield k, mime, value if isinstance(value, str) else "".join(value)
            elif output.output_type == "error":
                yield k, "error", f"{output.ename}: {output.evalue}"


def calls(source: str, name: str) -> list[str]:
    """The full text of every call ``name(...)`` in ``source`` (balanced parentheses)."""
    found = []
    for match in re.finditer(re.escape(name) + r"\(", source):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(source)):
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            if depth == 0:
                break
        found.append(source[match.start(): end + 1])
    return found


@pytest.fixture(scope="module", params=NOTEBOOKS_CHECKED)
def notebook(request):
    return request.param, load(request.param)


def test_the_walkthrough_is_complete_and_valid():
    missing = [stem for stem in NOTEBOOKS_CHECKED if not (NOTEBOOKS / f"{stem}.ipynb").exists()]
    assert missing == [], f"walkthrough notebooks missing from notebooks/: {missing}"
    for stem in NOTEBOOKS_CHECKED:
        nbformat.validate(load(stem))


def test_every_code_cell_ran_in_order_without_errors(notebook):
    stem, nb = notebook
    cells = code_cells(nb)
    assert cells, f"{stem}: no code cells"
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{stem}: execution counts {counts}; re-execute the notebook top to bottom "
        "(tools/execute_notebooks.py)")
    for k, kind, text in text_outputs(nb):
        assert kind not in ("error", "stderr"), f"{stem} cell {k}: stored {kind} output:\n{text}"


def test_imports_the_package_as_ll_and_never_star(notebook):
    stem, nb = notebook
    source = code_text(nb)
    assert re.search(r"^import lstm_lab as ll$", source, re.M), f"{stem}: no import lstm_lab as ll"
    assert not re.search(r"^\s*from\s+\S+\s+import\s+\*", source, re.M), f"{stem}: star import"
    for line in re.findall(r"^from lstm_lab import (.+)$", source, re.M):
        names = [name.strip() for name in line.split(",")]
        assert set(names) <= {"diagram", "plots", "widgets", "gradients", "train", "tasks"}, (
            f"{stem}: `from lstm_lab import {line}`: import the modules, use ll.<name> otherwise")


@pytest.mark.parametrize("stem", EXPLORER_OF)
def test_interactive_backend_is_set_first_when_an_explorer_is_shown(stem):
    nb = load(stem)
    first = code_cells(nb)[0].source.splitlines()[0]
    assert first == "%matplotlib ipympl", (
        f"{stem}: the first code line must be `%matplotlib ipympl` so sliders redraw in "
        f"JupyterLab; got {first!r}")


def test_code_and_figure_text_are_english(notebook):
    stem, nb = notebook
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            found = HANGUL.findall(cell.source)
            assert not found, (f"{stem} cell {k}: Hangul in code {''.join(found)!r}: matplotlib's "
                               "default font has no Hangul glyphs; Korean goes in markdown")
    for k, kind, text in text_outputs(nb):
        if kind != "text/markdown":
            assert not HANGUL.search(text), f"{stem} cell {k}: Hangul in a {kind} output"


def test_korean_terms_stand_beside_the_english_ones():
    for stem, terms in KOREAN_FIRST_USE.items():
        text = markdown_text(load(stem))
        missing = [term for term in terms if term not in text]
        assert missing == [], f"{stem}: Korean terms missing from the markdown: {missing}"
    glossary = markdown_text(load("00_start_here"))
    assert "## Glossary" in glossary
    missing = [term for term in GLOSSARY if term not in glossary]
    assert missing == [], f"00_start_here: glossary lacks {missing}"


@pytest.mark.parametrize("stem", STEPS + LATER)
def test_each_step_ends_with_questions_and_collapsed_model_answers(stem):
    nb = load(stem)
    asked, answered = nb.cells[-2], nb.cells[-1]
    assert asked.cell_type == "markdown" and re.match(r"##\s+Questions", asked.source), (
        f"{stem}: the second-last cell must be a '## Questions to think about' markdown cell")
    assert answered.cell_type == "markdown" and answered.source.startswith("**Model answers**"), (
        f"{stem}: the last cell must hold the model answers, starting '**Model answers**'")
    assert answered.metadata.get("jupyter", {}).get("source_hidden") is True, (
        f"{stem}: the model answers cell must be collapsed (metadata jupyter.source_hidden)")
    assert "<details>" not in asked.source, f"{stem}: answers belong in the collapsed cell"
    questions = re.findall(r"^\*\*(\d+)\.\*\*", asked.source, re.M)
    answers = re.split(r"^\*\*(\d+)\.\*\*", answered.source, flags=re.M)[1:]
    numbers, texts = answers[0::2], answers[1::2]
    assert len(questions) >= 3, f"{stem}: {len(questions)} questions; want at least 3"
    assert numbers == questions, f"{stem}: questions {questions} but answers {numbers}"
    for k, answer in zip(numbers, texts, strict=True):
        assert len(answer.split()) >= 8, f"{stem}: answer {k} is empty or too short: {answer!r}"


@pytest.mark.parametrize("stem", EXPLORER_OF)
def test_each_notebook_shows_its_explorers_with_saved_widget_state(stem):
    nb = load(stem)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for name in EXPLORER_OF[stem]:
        shown = []
        for cell in code_cells(nb):
            if f"widgets.{name}(" not in cell.source:
                continue
            for output in cell.outputs:
                data = output.get("data", {})
                if WIDGET_VIEW in data and data.get("text/plain", "").startswith(f"{name}("):
                    shown.append(data[WIDGET_VIEW]["model_id"])
        assert shown, f"{stem}: no cell displays widgets.{name}() (a widget view with its repr)"
        for model_id in shown:
            assert model_id in state, (
                f"{stem}: the widget state of the {name} view is not saved in the notebook "
                "metadata; re-execute with tools/execute_notebooks.py")


def test_every_main_notebook_from_01_on_has_an_explorer():
    main = sorted(p.stem for p in NOTEBOOKS.glob("[0-8][0-9]_*.ipynb")
                  if not p.stem.startswith("00"))
    assert main and sorted(EXPLORER_OF) == main, (
        "every main notebook from 01 on (00 and the 9x appendices exempt) must show an explorer "
        f"listed in EXPLORER_OF; missing: {sorted(set(main) - set(EXPLORER_OF))}")


def test_stored_text_is_deterministic_and_holds_no_machine_paths(notebook):
    stem, nb = notebook
    for k, kind, text in text_outputs(nb):
        assert not re.search(r"\bat 0x[0-9a-fA-F]+|0x7f[0-9a-f]{6,}", text), (
            f"{stem} cell {k}: a memory address in a {kind} output: {text[:200]!r}")
        assert "<matplotlib." not in text and not re.match(r"\[?<?Text\(", text), (
            f"{stem} cell {k}: a matplotlib artist repr in the output (end the line with ';' or "
            f"assign it): {text[:200]!r}")
    for k, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if data.get("text/plain", "").startswith("<Figure"):
                assert "image/png" in data, f"{stem} cell {k}: a figure shown without its picture"
    sources = "\n".join(cell.source for cell in nb.cells)
    texts = "\n".join(text for _, _, text in text_outputs(nb))
    for path in ("/work", "/tmp", "/root", "/opt", "/home/"):
        assert path not in sources and path not in texts, f"{stem}: machine path {path!r}"


def test_randomness_is_seeded(notebook):
    stem, nb = notebook
    source = code_text(nb)
    global_state = re.search(r"np\.random\.(seed|rand|randn|normal|uniform)\(", source)
    assert not global_state, (
        f"{stem}: use np.random.default_rng(seed), not numpy's global random state")
    for call in calls(source, "default_rng"):
        assert call != "default_rng()", f"{stem}: {call} draws a fresh seed on every run"
    for cls in CELL_CLASSES:
        for call in calls(source, f"ll.{cls}"):
            assert "seed=" in call, f"{stem}: {call} has no seed, so its weights change every run"


def test_links_between_notebooks_resolve():
    existing = {path.name for path in NOTEBOOKS.glob("*.ipynb")}
    by_number = {name[:2]: name for name in existing if re.match(r"\d\d_", name)}
    for stem in NOTEBOOKS_CHECKED:
        for target in re.findall(r"\]\(([^)\s]+)\)", markdown_text(load(stem))):
            if target.startswith(("http://", "https://", "#")):
                continue
            if target == "exercises/":
                continue  # the exercises folder belongs to another part of the lab
            assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", target), f"{stem}: odd link {target!r}"
            if target[:-6] in NOTEBOOKS_CHECKED or target[:2] in by_number:
                assert target in existing, (
                    f"{stem}: link to {target!r}, but notebooks/ has "
                    f"{by_number.get(target[:2], 'no such notebook')!r}")


def test_the_map_in_start_here_lists_every_notebook_in_order():
    text = markdown_text(load("00_start_here"))
    numbers = re.findall(r"^\| \[(\d\d) · ", text, re.M)
    existing = sorted(path.name[:2] for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert numbers == existing, f"map rows {numbers}, notebooks {existing}"
    assert "[exercises/](exercises/)" in text


# ------------------------------------------------------------------ what each notebook must show


def outputs_of(nb) -> str:
    return "\n".join(text for _, _, text in text_outputs(nb))


def has_picture(nb, needle: str) -> bool:
    """Some code cell containing ``needle`` stored a PNG."""
    for cell in code_cells(nb):
        if needle in cell.source:
            if any("image/png" in output.get("data", {}) for output in cell.outputs):
                return True
    return False


def test_00_proves_the_notations_agree_and_keeps_to_orientation():
    nb = load("00_start_here")
    source = code_text(nb)
    assert "np.hstack" in source and source.count("np.testing.assert_allclose") >= 2
    text = markdown_text(nb)
    for notation in (r"\tilde{C}_t", r"\otimes", r"\circ", r"\odot", "[h_{t-1}, x_t]",
                     "four gates", r"(1 - z_t) * h_{t-1}"):
        assert notation in text, f"00: the notation table lacks {notation}"
    # orientation only: no explorer nobody can read yet, no framework layouts (they are in 90)
    assert "Explorer(" not in source, "00: an explorer belongs in the notebook that explains it"
    for name in ("weight_ih_l0", "recurrent_kernel", "to_torch", "to_keras"):
        assert name not in source + outputs_of(nb), f"00: {name} belongs in 90_framework_layouts"
    assert "(90_framework_layouts.ipynb)" in text


def test_90_reads_every_framework_block_back():
    nb = load("90_framework_layouts")
    source = code_text(nb)
    assert source.count("np.testing.assert_allclose") >= 10
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "recurrent_kernel"):
        assert name in outputs_of(nb), f"90: the {name} layout is not shown"
    assert "assert torch_count - cell.num_params == 4 * H" in source
    assert 'err_msg="two bias splits"' in source
    text = markdown_text(nb)
    assert "memory state" in text and "carry state" in text


def test_01_measures_the_fading_influence():
    nb = load("01_rnn_and_long_term_dependencies")
    source = code_text(nb)
    assert "rnn_input_jacobian_norms" in source and "France" in source and "Spain" in source
    assert has_picture(nb, "semilogy(steps_after")


def test_02_computes_and_measures_the_half_life():
    nb = load("02_forget_gate")
    source = code_text(nb)
    assert "np.log(0.5) / np.log(" in source
    assert "assert first == int(np.ceil(half_life))" in source
    assert has_picture(nb, "half-life (steps)")


def test_03_compares_the_tanh_candidate_with_a_sigmoid_and_a_relu():
    nb = load("03_input_gate")
    source = code_text(nb)
    assert '"sigmoid instead": ll.sigmoid' in source
    assert "np.testing.assert_allclose(cell_states" in source
    assert has_picture(nb, "candidate {name}")


def test_04_holds_a_value_for_50_steps_where_the_rnn_loses_it():
    nb = load("04_cell_state_update")
    source = code_text(nb)
    assert re.search(r"^hold, B = 50, ", source, re.M)
    assert 'assert max(errors["LSTM (by hand)"]) < 0.01' in source
    assert "mean |memory after 50 steps - stored value|" in outputs_of(nb)
    assert has_picture(nb, "no input after step 1")


def test_05_checks_that_the_hidden_state_is_bounded_by_the_output_gate():
    source = code_text(load("05_output_gate"))
    assert "assert np.all(np.abs(h) <= o) and np.all(o < 1)" in source
    assert 'np.testing.assert_allclose(h, o * np.tanh(c)' in source


def test_06_checks_the_equations_heatmaps_and_parameter_count():
    nb = load("06_the_full_lstm")
    source = code_text(nb)
    assert "def lstm_step(" in source and "np.testing.assert_allclose(ours, package" in source
    assert "assert cell.num_params == formula" in source
    assert has_picture(nb, "plots.plot_heatmap(trace")
    assert "all 120 steps agree" in outputs_of(nb)
    # the default run of the explorer is explained with numbers its own weights produce
    assert 'err_msg="g_t = tanh(0) = 0"' in source and 'err_msg="i_t = sigmoid(b_i)"' in source
