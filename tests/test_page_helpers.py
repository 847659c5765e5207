"""What the chapters use to keep a page clean: readable tables, glue without value boxes, and the
recorded compute time behind the boxes' cold-cache run times."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from subliminal import book
from subliminal.config import Config
from subliminal.display import readable


def _cells(styler) -> list[list[str]]:
    body = styler._translate(False, False)["body"]
    return [[c["display_value"] for c in row] for row in body]


def test_readable_writes_numbers_for_reading():
    table = pd.DataFrame(
        {
            "accuracy (%)": [55.2831, 10.0],
            "seeds": [10.0, 10.0],
            "steps cos>0 (%)": [71.25, 50.0],
            "mean cos": [0.0075, -0.00001],
            "x": [-0.001, float("nan")],
        },
        index=["a", "b"],
    )
    rows = _cells(readable(table))
    assert rows[0][1:] == ["55.3", "10", "71.2", "7.5e-03", "0.0"]  # 512.0000 -> 512, no -0.0
    assert rows[1][1:] == ["10.0", "10", "50.0", "-1.0e-05", "–"]
    general = _cells(readable(pd.DataFrame({"v": [0.0003, 512.0]}), formats={"v": "general"}))
    assert [r[1] for r in general] == ["0.0003", "512"]
    html = readable(pd.DataFrame({"<a, b>": [1.0]})).to_html()
    assert "&lt;a, b&gt;" in html, "a column named like a tag must stay visible"


def test_readable_refuses_unknown_columns_and_formats():
    with pytest.raises(KeyError, match="no column"):
        readable(pd.DataFrame({"a": [1]}), formats={"b": "int"})
    with pytest.raises(ValueError, match="neither one of"):
        readable(pd.DataFrame({"a": [1]}), formats={"a": "percent"})
    with pytest.raises(TypeError, match="DataFrame or Series"):
        readable([1, 2])


def test_glue_returns_nothing_so_a_cell_shows_no_value_box():
    assert book.glue("page_helpers_test", 3) is None


def test_run_minutes_records_and_recalls_a_compute_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    key = book.main_run_key(Config.fast(), 3)
    assert math.isnan(book.run_minutes("main-run", key)), "nothing recorded yet"
    assert book.run_minutes("main-run", key, 2.5) == 2.5
    assert book.run_minutes("main-run", key) == 2.5
    other = book.main_run_key(Config.fast(), 4)
    assert math.isnan(book.run_minutes("main-run", other)), "another run has no record"
    with pytest.raises(ValueError, match="finite number of minutes"):
        book.run_minutes("main-run", key, float("nan"))
    assert book.minutes_text(2.46) == "2.5 minutes"
    assert book.minutes_text(float("nan")) == "an unmeasured time"
