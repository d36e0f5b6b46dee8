"""The analysis of a zero2hero experiment: collect runs, language features, correlations, LOOCV
meta-regression, few-shot gains, annotation/compute costs, report (docs/method.md §5, §6, §8).

Entry points: `analysis.main.run_analysis` and `analysis.ingest.run_ingest`.
"""
