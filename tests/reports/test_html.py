"""The page's results table: the row marked best holds the best run's values."""
from html.parser import HTMLParser

import numpy as np
import pandas as pd

from reports.html import results_table


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


RUNS = pd.DataFrame([  # best first, as runs.csv is written
    {"run": "optimizer.lr=0.1", "status": "ok", "best_val_acc": 0.9512, "best_epoch": 3, "lr": 0.1},
    {"run": "optimizer.lr=0.01", "status": "ok", "best_val_acc": 0.8811, "best_epoch": 5, "lr": 0.01},
    {"run": "optimizer.lr=3.0", "status": "diverged", "best_val_acc": np.nan, "best_epoch": np.nan, "lr": 3.0},
])


def test_the_marked_row_holds_the_best_runs_values():
    rows = body_rows(results_table(RUNS))
    assert len(rows) == 3
    marked = [cells for cls, cells in rows if "best" in cls.split()]
    assert len(marked) == 1
    run, status, best_val_acc, best_epoch, lr = marked[0]
    assert (run, status, best_val_acc, best_epoch, float(lr)) == ("optimizer.lr=0.1", "ok", "0.9512", "3", 0.1)


def test_no_row_is_marked_when_no_run_has_a_validation_accuracy():
    runs = RUNS.assign(best_val_acc=np.nan)
    assert not [cls for cls, _ in body_rows(results_table(runs)) if "best" in cls.split()]
