"""The page's results table: the row marked best holds the best run's values."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from nnsweep.reports.html import results_table


class TableRows(HTMLParser):
    """(class attribute, cell texts) of every body row of a table."""

    def __init__(self):
        super().__init__()
        self.rows, self.in_body, self.cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append((dict(attrs).get("class", ""), []))
        elif tag == "td" and self.in_body:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1][1].append(self.cell.strip())
            self.cell = None


def body_rows(table: str) -> list[tuple[str, list[str]]]:
    parser = TableRows()
    parser.feed(table)
    return parser.rows


RUNS = pd.DataFrame(
    [  # best first, as runs.csv is written
        {"run": "optimizer.lr=0.1", "status": "ok", "best_val_acc": 0.9512, "best_epoch": 3, "lr": 0.1},
        {"run": "optimizer.lr=0.01", "status": "ok", "best_val_acc": 0.8811, "best_epoch": 5, "lr": 0.01},
        {"run": "optimizer.lr=3.0", "status": "diverged", "best_val_acc": np.nan, "best_epoch": np.nan, "lr": 3.0},
    ]
)


def test_the_marked_row_holds_the_best_runs_values():
    rows = body_rows(results_table(RUNS))
    assert len(rows) == 3
    marked = [cells for cls, cells in rows if "best" in cls.split()]
    assert len(marked) == 1
    best_val_acc, run, status, best_epoch, lr = marked[0]
    assert (run, status, best_val_acc, best_epoch, float(lr)) == ("optimizer.lr=0.1", "ok", "0.9512", "3", 0.1)


def test_no_row_is_marked_when_no_run_has_a_validation_accuracy():
    runs = RUNS.assign(best_val_acc=np.nan)
    assert not [cls for cls, _ in body_rows(results_table(runs)) if "best" in cls.split()]


# --- the table answers the sweep's question: objective first, constants said once, sortable, linked ---


class Headers(HTMLParser):
    """The header cells' texts, and every link's target."""

    def __init__(self):
        super().__init__()
        self.headers, self.links, self.in_th = [], [], False

    def handle_starttag(self, tag, attrs):
        self.in_th = tag == "th"
        if tag == "th":
            self.headers.append("")
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data):
        if self.in_th:
            self.headers[-1] += data.strip()

    def handle_endtag(self, tag):
        if tag == "th":
            self.in_th = False


def grid_page(tmp_path):
    """A synthetic grid's runs, on the page its report writes (no figures)."""
    from nnsweep.reports.html import write_index
    from nnsweep.reports.tables import load_tables
    from tests.reports.synthetic import write_grid_sweep

    write_grid_sweep(tmp_path)
    runs = load_tables(tmp_path).runs
    (tmp_path / "report").mkdir()
    for run in runs["run"]:
        (tmp_path / run).mkdir()
    return runs, write_index(tmp_path / "report", "t", "s", [], runs, []).read_text()


def test_the_objective_is_the_first_column_and_constant_columns_are_said_once(tmp_path):
    runs, page = grid_page(tmp_path)
    parser = Headers()
    parser.feed(page[page.index("<table") :])
    assert parser.headers[0] == "best_val_acc" and parser.headers[1] == "run"
    shared = ["status", "hidden", "l2", "batch_size", "epochs", "epochs_completed", "wall_time_s"]
    assert not set(shared) & set(parser.headers)
    assert {"optimizer", "net", "optimizer.lr", "lr", "net_name", "optimizer_name"} <= set(parser.headers)
    line = re.search(r'<p class="shared">(.*?)</p>', page).group(1)
    for text in (
        "status ok",
        "hidden 32",
        "l2 0,",
        "batch_size 10",
        "epochs 3",
        "epochs_completed 3",
        "wall_time_s 0.1",
    ):
        assert text in line, (text, line)
    assert "empty in every run: diverged_epoch" in line and "error" in line
    first = body_rows(page[page.index("<table") :])[0][1]
    assert float(first[0]) == max(runs["best_val_acc"]) and first[1] == runs.iloc[0]["run"]


def test_the_page_links_the_tables_and_each_run_relatively(tmp_path):
    runs, page = grid_page(tmp_path)
    parser = Headers()
    parser.feed(page)
    report = tmp_path / "report"
    assert {"../runs.csv", "../epochs.csv", "../configs.csv"} <= set(parser.links)
    run_links = [link for link in parser.links if not link.endswith(".csv")]
    assert len(run_links) == len(runs) == 12
    assert all(not link.startswith("/") and "://" not in link for link in parser.links)
    assert sorted((report / unquote(link)).resolve() for link in run_links) == sorted(
        (tmp_path / run).resolve() for run in runs["run"]
    )
    assert all((report / link).is_file() for link in ("../runs.csv", "../epochs.csv", "../configs.csv"))


def test_the_table_sorts_on_a_click_with_a_script_of_its_own(tmp_path):
    """The page's sort is inline (nothing from a CDN); its comparison puts numbers in numeric
    order before text in text order, the other way round on a second click, and empty cells last
    either way."""
    from nnsweep.reports.html import SORT

    _, page = grid_page(tmp_path)
    assert 'class="dataframe sortable"' in page and SORT.strip() in page
    assert "<script src" not in page and "http" not in SORT
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the comparison is not run")
    check = (
        "var document = {querySelectorAll: function () { return []; }};"
        + SORT
        + """
    var cells = ["10", "9", "", "0.5", "-1", "abc", "Abd"];
    console.log(JSON.stringify([cells.slice().sort(function (a, b) { return compareCells(a, b, 1); }),
                                cells.slice().sort(function (a, b) { return compareCells(a, b, -1); })]));"""
    )
    result = subprocess.run([node, "-e", check], capture_output=True, text=True, timeout=30)
    up, down = json.loads(result.stdout)
    assert up == ["-1", "0.5", "9", "10", "abc", "Abd", ""] and down == ["Abd", "abc", "10", "9", "0.5", "-1", ""]


def test_one_run_hides_nothing():
    table = results_table(RUNS.iloc[:1].assign(batch_size=10))
    assert "<th>batch_size</th>" in table and "<th>status</th>" in table


def test_the_status_line_counts_a_run_at_chance_as_not_learning():
    """The page's first line said "ok: 11" under "10 ok, 1 did not learn (at chance)"."""
    from nnsweep.reports.html import status_line

    runs = pd.DataFrame(
        {
            "status": ["ok", "ok", "ok", "failed"],
            "best_val_acc": [0.9, 0.1, 0.92, None],
            "at_chance": [False, True, False, False],
            "val_size": [500, 500, 500, 500],
        }
    )
    line = status_line(runs)
    assert '<span data-status="ok">ok: 2</span>' in line and "did not learn: 1" in line and "failed: 1" in line


def test_the_table_names_a_run_at_chance_as_not_learning_not_a_shared_ok():
    """The table said "Shared by all 12 runs: status ok" on a page that counted one run as not
    learning."""
    runs = pd.DataFrame(
        {
            "run": ["a", "b", "c"],
            "status": ["ok", "ok", "ok"],
            "best_val_acc": [0.9, 0.1, 0.92],
            "at_chance": [False, True, False],
            "val_size": [500, 500, 500],
        }
    )
    table = results_table(runs)
    assert "status ok" not in table and '<td class="status-did_not_learn">did_not_learn</td>' in table
    assert "at_chance" not in table
