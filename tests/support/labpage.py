"""What a test (or `scripts/bench_browser.py`) does on a notebook in JupyterLab in headless Chromium: open it and wait
for its kernel, run every cell and wait for the end, move a slider as a student would and time its redraw."""

from __future__ import annotations


def run_all(page) -> None:
    """Run all cells of the notebook in view; return when every code cell has run and the kernel is idle."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
        const panel = window.jupyterapp.shell.currentWidget;
        const kernel = panel.sessionContext.session.kernel;
        const cells = panel.content.widgets.filter(w => w.model.type === 'code');
        // a collapsed cell (jupyter.source_hidden) shows no prompt: its execution count alone tells it ran
        const running = w => { const prompt = w.node.querySelector('.jp-InputArea-prompt');
            return prompt !== null && prompt.textContent.includes('*'); };
        const done = cells.every(w => w.model.executionCount !== null && !running(w));
        return kernel.status === 'idle' && done;
    }""",
        timeout=240_000,
        polling=500,
    )


def open_notebook(page, lab, relative: str, workspace: str, token: str) -> None:
    """Open `relative` (below the server's root) in a fresh workspace and wait until its kernel is idle."""
    page.goto(f"{lab}/lab/workspaces/{workspace}/tree/{relative}?reset&token={token}")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=60_000,
    )
    page.wait_for_function(
        """async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.sessionContext.ready;
        const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
        return kernel && kernel.status === 'idle';
    }""",
        timeout=90_000,
    )


def move_slider(page, panel_index: int) -> float:
    """Press an arrow key on the first slider of panel `panel_index` (a real key press, as a student would);
    return the milliseconds from the key press to the moment its plot image changed."""
    handle = page.locator(".lrcourse-panel").nth(panel_index).locator(".widget-slider .noUi-handle").first
    key = page.evaluate(
        """(index) => {
        const panel = document.querySelectorAll('.lrcourse-panel')[index];
        const box = panel.querySelector('.lrcourse-image');  // an HTML widget: each redraw puts a new <img> in it
        const handle = panel.querySelector('.widget-slider .noUi-handle');
        window.__pressed = null; window.__redrawn = null;
        handle.addEventListener('keydown', () => { window.__pressed = performance.now(); }, {once: true, capture: true});
        const before = box.querySelector('img').src;
        const observer = new MutationObserver(() => {
            const image = box.querySelector('img');
            if (image && image.src !== before) { window.__redrawn = performance.now(); observer.disconnect(); }
        });
        observer.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
        const atMax = Number(handle.getAttribute('aria-valuenow')) >= Number(handle.getAttribute('aria-valuemax'));
        return atMax ? 'ArrowLeft' : 'ArrowRight';
    }""",
        panel_index,
    )
    handle.focus()
    handle.press(key)
    page.wait_for_function("() => window.__redrawn !== null && window.__pressed !== null", timeout=30_000)
    return page.evaluate("() => window.__redrawn - window.__pressed")
