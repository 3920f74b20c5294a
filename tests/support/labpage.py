"""What a test does on a notebook open in JupyterLab in headless Chromium: run every cell and wait for the end."""

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
