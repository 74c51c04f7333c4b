"""The runner's drawing process: charts in, SVG (or the reason there is none) out, in order."""

from __future__ import annotations

import pytest

from duckbook.run import drawing


@pytest.fixture
def drawer():
    d = drawing.Drawer()
    yield d
    d.close()


@pytest.mark.slow
def test_charts_are_drawn_in_order_and_a_bad_one_fails_alone(drawer):
    drawer.warm_up()
    good = drawer.draw(drawing.WARM_UP)
    bad = drawer.draw({"spec": {"mark": 1}, "vl_version": None})
    after = drawer.draw(drawing.WARM_UP)
    assert good.result(timeout=60).startswith("<svg") and after.result(timeout=60) == good.result()
    with pytest.raises(drawing.DrawingError, match="Error"):
        bad.result(timeout=60)


def test_charts_waiting_when_the_process_ends_fail(drawer):
    proc = drawer._start()
    proc.kill()
    proc.wait()
    with pytest.raises(drawing.DrawingError, match="drawing process"):
        drawer.draw(drawing.WARM_UP).result(timeout=60)
