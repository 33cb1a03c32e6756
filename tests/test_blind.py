"""benchmarks/blind.py: un-blinding, majorities, ties, defect kinds and score agreement."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import blind

KEY = {
    "methods": ["ours", "peer"],
    "sheets": {
        "sheet_001": {"content": "cat", "style": "monet", "A": "ours", "B": "peer"},
        "sheet_002": {"content": "dog", "style": "monet", "A": "peer", "B": "ours"},
    },
}


def answer(sheet, side, judge, defects_a="", defects_b=""):
    return {
        "sheet": sheet,
        **{c: side for c in blind.CRITERIA},
        "judge": judge,
        "defects_A": defects_a,
        "defects_B": defects_b,
    }


def test_sides_are_unblinded_with_the_key():
    # "A" means ours on sheet 1 and the peer on sheet 2: the same letter, opposite methods
    report = blind.score(KEY, [answer("sheet_001", "A", "j1"), answer("sheet_002", "A", "j1")])
    overall = report["preference"]["overall"]
    assert overall["ours"]["pairs_won"] == 1 and overall["peer"]["pairs_won"] == 1
    assert [p["overall"] for p in report["per_pair"]] == ["ours", "peer"]
    assert report["per_pair"][0]["content_name"] == "cat"


def test_overall_judgments_are_tallied_per_style_and_photo():
    # sheet 1: ours won twice; sheet 2 (A = peer): the peer once, ours once
    answers = [answer("sheet_001", "A", "j1"), answer("sheet_001", "A", "j2")]
    answers += [answer("sheet_002", "A", "j1"), answer("sheet_002", "B", "j2")]
    report = blind.score(KEY, answers)
    assert report["overall_by_style"] == {"monet": {"ours": 3, "peer": 1}}
    assert report["overall_by_content"] == {"cat": {"ours": 2, "peer": 0}, "dog": {"ours": 1, "peer": 1}}


def test_sheets_show_results_at_the_size_asked(tmp_path):
    from PIL import Image

    for name, size in (("photo", (64, 48)), ("painting", (40, 40)), ("a", (1024, 768)), ("b", (1024, 768))):
        Image.new("RGB", size, "gray").save(tmp_path / f"{name}.png")
    files = [tmp_path / f"{n}.png" for n in ("photo", "painting", "a", "b")]
    small = blind.draw_sheet(*files, "s")
    full = blind.draw_sheet(*files, "s", result_side=1024)
    assert small.width < 2 * 512 + 100 <= 2 * 1024 < full.width


def test_a_split_vote_is_a_tie_and_majorities_win():
    answers = [answer("sheet_001", "A", "j1"), answer("sheet_001", "B", "j2")]
    report = blind.score(KEY, answers)
    assert report["ties"]["overall"] == 1
    assert report["preference"]["overall"]["ours"]["judgments"] == 1
    answers.append(answer("sheet_001", "A", "j3"))
    report = blind.score(KEY, answers)
    assert report["ties"]["overall"] == 0 and report["per_pair"][0]["overall"] == "ours"
    assert report["preference"]["overall"]["ours"]["rate"] == pytest.approx(2 / 3)


def test_defects_are_counted_per_method_and_kind():
    answers = [answer("sheet_001", "B", "j1", "dark border, grid on the sky", "none")]
    report = blind.score(KEY, answers)
    ours, peer = report["defects_named"]["ours"], report["defects_named"]["peer"]
    assert ours["named"] == 1 and peer["named"] == 0
    assert ours["by_kind"]["border"] == 1 and ours["by_kind"]["grid"] == 1 and ours["by_kind"]["smear"] == 0
    assert blind.defect_kinds("none") == [] and blind.defect_kinds("") == []
    assert blind.defect_kinds("Checkerboard pattern, muted palette") == ["grid", "colour"]


def test_score_agreement_counts_clear_pairs_only():
    answers = [answer("sheet_001", "A", "j1"), answer("sheet_002", "A", "j1")]  # ours, then peer preferred
    rows = [
        {"method": "ours", "content_name": "cat", "style_name": "monet", "color": 1.0, "style": 5.0},
        {"method": "peer", "content_name": "cat", "style_name": "monet", "color": 2.0, "style": 5.0},
        {"method": "ours", "content_name": "dog", "style_name": "monet", "color": 1.0, "style": 1.0},
        {"method": "peer", "content_name": "dog", "style_name": "monet", "color": 2.0, "style": 3.0},
    ]
    agree = blind.score(KEY, answers, rows)["score_agreement"]
    assert agree["color"] == {"agree": 1, "pairs": 2, "rate": 0.5}
    assert agree["style"] == {"agree": 0, "pairs": 1, "rate": 0.0}  # equal on cat: not counted
    # `instyle evaluate` rows name the images by path
    rows = [
        {
            "method": r["method"],
            "content_image": f"/x/{r['content_name']}.jpg",
            "style_image": f"/y/{r['style_name']}.png",
            "color": r["color"],
        }
        for r in rows
    ]
    assert blind.score(KEY, answers, rows)["score_agreement"]["color"]["pairs"] == 2


def test_bad_answers_are_refused(tmp_path):
    bad = tmp_path / "j.csv"
    bad.write_text("sheet,overall,style,content,artefacts\nsheet_001,A,C,A,A\n")
    with pytest.raises(SystemExit, match="style must be A or B"):
        blind.read_answers([bad])
    with pytest.raises(SystemExit, match="not in the key"):
        blind.score(KEY, [answer("sheet_099", "A", "j1")])
