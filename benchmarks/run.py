"""`make bench`: every benchmark, one after the other, printing its figures."""

from __future__ import annotations

from benchmarks import bench_generate, bench_pipeline, bench_service


def main() -> None:
    bench_generate.main([])
    bench_pipeline.main([])
    bench_service.main([])


if __name__ == "__main__":
    main()
