"""The backprop explorer in a real browser: headless Chromium (the system's package, never a
download) driven by Playwright opens the page from disk and clicks through every step.

At every backward step the gradients the page shows (each tensor's gradient so far, and what
the step passed to each input) must equal the ones ``trace_backward`` recorded, to the last
bit (the page carries each shown value exactly, in ``data-exact``) and as printed; the
forward steps show each op's output. No request may leave the page and the console must stay
free of errors. Chromium must be installed (``.ci/run`` installs Debian's ``chromium``).
"""
import json
import shutil

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.tools.explorer import forward_order, values_text

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # the system's package, on PATH

SHOWN = """() => ({
  counter: document.getElementById("counter").textContent,
  totals: [...document.querySelectorAll("#totals tr[data-tensor]")].map((row) => {
    const value = row.querySelector(".value");
    return [Number(row.dataset.tensor), value.dataset.exact, value.querySelector("pre").textContent];
  }),
  passed: [...document.querySelectorAll("#passed tr.passed")].map((row) => {
    const value = row.querySelector(".value");
    return value ? [Number(value.dataset.tensor), value.dataset.exact] : null;
  }),
  current: [...document.querySelectorAll("#graph g.node.current")].map((node) => node.id),
})"""


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "the browser test needs Chromium: apt-get install chromium (Debian) or your system's package"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


class Visit:
    """A page opened from disk, with every request and console message it caused."""

    def __init__(self, browser, path, at=""):
        self.page = browser.new_page(viewport={"width": 1300, "height": 800})
        self.url = path.resolve().as_uri()
        self.requests, self.problems = [], []
        self.page.on("request", lambda request: self.requests.append(request.url.split("#")[0]))
        self.page.on("console", lambda message: message.type in ("error", "warning") and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.goto(self.url + at)

    def shown(self):
        return self.page.evaluate(SHOWN)

    def close(self):
        self.page.close()
        outside = [url for url in self.requests if url != self.url]
        assert self.requests and not outside and not self.problems, (
            f"requests beyond the page itself: {outside}; console: {self.problems}")


def exactly(exact_json, array):
    shown = np.array(json.loads(exact_json), dtype=np.float64)
    np.testing.assert_array_equal(shown, np.asarray(array, dtype=np.float64).ravel())


def reused_weight_loss():
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((4, 3)).astype(np.float32), name="x")
    w = tg.Tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True, name="w")
    b = tg.Tensor(np.zeros(2, dtype=np.float32), requires_grad=True, name="b")
    h = (x @ w + b).tanh()
    loss = (h * h).sum() + (w * w).sum() * 0.1  # w and h each receive more than one contribution
    loss.name = "loss"
    return loss, w, b


def test_clicking_through_every_step_shows_the_traced_gradients(browser, tmp_path):
    loss, w, b = reused_weight_loss()
    explorer = tg.explore(loss)
    trace, tensors = explorer.trace, explorer.tensors
    visit = Visit(browser, explorer.save(tmp_path / "backprop.html"))
    page = visit.page
    assert visit.shown()["counter"] == f"step 0 of {len(trace)}"
    for k in range(1, len(trace) + 1):
        (page.click("#next") if k % 2 else page.keyboard.press("ArrowRight"))  # the button and the key
        shown = visit.shown()
        assert shown["counter"] == f"step {k} of {len(trace)}"
        step = trace[k - 1]
        op_node = next(op.node_id for op in tg.tools.viz.GraphView(loss).ops if op.ctx is step.ctx)
        assert shown["current"] == [f"n-{op_node}"]  # the op of the step is highlighted, alone
        received = trace.received(k)
        assert sorted(t for t, _, _ in shown["totals"]) == sorted(i for i, t in enumerate(tensors) if id(t) in received)
        for index, exact, printed in shown["totals"]:
            exactly(exact, received[id(tensors[index])])
            assert printed == values_text(received[id(tensors[index])])
        assert len(shown["passed"]) == len(step.passed)
        for passed, entry in zip(step.passed, shown["passed"]):
            if passed.grad is None:
                assert entry is None
            else:
                assert tensors[entry[0]] is passed.target
                exactly(entry[1], passed.grad)
    assert page.is_disabled("#next")
    # what the page ends on is what backward left in .grad: w's three contributions added up
    final = {id(tensors[index]): exact for index, exact, _ in visit.shown()["totals"]}
    exactly(final[id(w)], w.grad.data)
    exactly(final[id(b)], b.grad.data)
    assert page.text_content(f"#n-{tg.tools.viz.GraphView(loss).tensors[id(w)].node_id} text.badge") == "+g \u00d73"

    page.keyboard.press("ArrowLeft")
    assert visit.shown()["counter"] == f"step {len(trace) - 1} of {len(trace)}"
    page.hover("#n-t0")  # the loss: its value summary
    assert "scalar float32" in page.text_content("#tooltip") and page.is_visible("#tooltip")

    page.click("#mode-forward")
    produced = forward_order([loss])
    for k in range(1, len(produced) + 1):
        page.keyboard.press("ArrowRight")
        output = page.eval_on_selector_all("#step > .value", "(values) => values.map((v) => v.dataset.exact)")
        exactly(output[-1], produced[k - 1].data)  # the value the op made
    visit.close()


def test_a_summarised_graph_and_a_page_opened_at_a_step(browser, tmp_path):
    y = tg.Tensor(np.ones(3), requires_grad=True, name="start")
    for _ in range(20):
        y = (y * 1.01).tanh()
    explorer = tg.explore(y.sum(), max_nodes=10)
    path = explorer.save(tmp_path / "big.html")
    visit = Visit(browser, path)
    page = visit.page
    page.keyboard.press("End")
    shown = visit.shown()
    assert shown["counter"] == f"step {len(explorer.trace)} of {len(explorer.trace)}"
    assert shown["current"] == ["n-summary"]  # the last op was left out of the picture: its summary stands in
    assert "raise max_nodes" in page.text_content("#step")
    visit.close()
    visit = Visit(browser, path, at="#backward-2")
    assert visit.shown()["counter"] == f"step 2 of {len(explorer.trace)}"
    visit.close()


def test_the_checks_catch_a_page_that_asks_for_something(browser, tmp_path):
    """The watchers themselves: a picture from elsewhere is a request (or, under the page's
    policy, a refusal on the console), and either fails ``Visit.close``."""
    html = tg.explore(reused_weight_loss()[0]).html
    outside = '<img src="http://127.0.0.1:9/x.png" alt="">'
    for name, page, caught in (
        ("open.html", html.replace('http-equiv="Content-Security-Policy"', 'name="no-policy"'), r"itself: \['http://127.0.0.1:9/x.png'\]"),
        ("policed.html", html, "console: .*violates the following Content Security Policy"),
    ):
        path = tmp_path / name
        path.write_text(page.replace("<main>", outside + "<main>"), encoding="utf-8")
        visit = Visit(browser, path)
        visit.page.wait_for_load_state("load")
        with pytest.raises(AssertionError, match=caught):
            visit.close()
