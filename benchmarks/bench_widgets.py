"""Time each explorer's slider moves under Agg: the recompute alone, the update with a full redraw.

Usage:  python benchmarks/bench_widgets.py [--moves N] [--only NAME ...]

For every explorer in lstm_lab.widgets.EXPLORERS this builds it with its defaults, then
moves each of its sliders N times across the slider's range and reports medians over all
moves (milliseconds):

  recompute     explorer.recompute() alone: the cell's forward pass and what the plots
                derive from it (no drawing)
  set value     `slider.value = v` alone: write into cell.params, recompute, update the
                artists in place, canvas.draw_idle() (under Agg this is a full draw)
  full update   `slider.value = v` then `figure.canvas.draw()`, the budget's definition
  full (cpu)    the same, in this thread's CPU time (less sensitive to other processes)

Budgets (issue 3): recompute <= 5 ms, full update <= 100 ms median. Nothing is asserted;
the load average is printed because other processes on a small machine change the figures.
"""

import argparse
import os
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from lstm_lab import widgets  # noqa: E402


def slider_values(slider, n):
    """n values spread over the slider's range, never the current one twice in a row."""
    values = np.linspace(slider.min, slider.max, n + 1)[1:]
    return [float(v) for v in np.roll(values, n // 2)]


def bench(name, moves):
    ex = widgets.EXPLORERS[name]()
    canvas = ex.figure.canvas
    canvas.draw()                                   # warm caches: fonts, mathtext, tick layout
    recompute, set_value, full, full_cpu = [], [], [], []
    for slider in ex.sliders.values():
        for v in slider_values(slider, moves):
            t0 = time.perf_counter()
            slider.value = v
            t1 = time.perf_counter()
            set_value.append(t1 - t0)
            if ex.error is not None:
                raise RuntimeError(f"{name}: update failed") from ex.error
            t0 = time.perf_counter()
            ex.recompute()
            recompute.append(time.perf_counter() - t0)
        for v in slider_values(slider, moves)[::-1]:
            w0, c0 = time.perf_counter(), time.thread_time()
            slider.value = v
            canvas.draw()
            full.append(time.perf_counter() - w0)
            full_cpu.append(time.thread_time() - c0)
    ex.close()
    ms = lambda xs: 1e3 * statistics.median(xs)  # noqa: E731
    return {"sliders": len(ex.sliders), "moves": len(full), "recompute": ms(recompute),
            "set value": ms(set_value), "full update": ms(full), "full (cpu)": ms(full_cpu)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10, help="moves per slider (default 10)")
    parser.add_argument("--only", nargs="*", choices=list(widgets.EXPLORERS),
                        help="explorers to time (default: all)")
    args = parser.parse_args(argv)
    names = args.only or list(widgets.EXPLORERS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"explorer updates under Agg, medians in ms; {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start", flush=True)
    cols = ["sliders", "moves", "recompute", "set value", "full update", "full (cpu)"]
    print(f"{'explorer':<20}" + "".join(f"{c:>13}" for c in cols), flush=True)
    for name in names:
        row = bench(name, args.moves)
        cells = [f"{row[c]:>13d}" if isinstance(row[c], int) else f"{row[c]:>13.2f}" for c in cols]
        print(f"{widgets.EXPLORERS[name].__name__:<20}" + "".join(cells), flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} at end; budgets: recompute <= 5 ms, full update <= 100 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
