"""The evaluation that ``interest eval`` and ``interest encoders compare`` run: data loaders,
splits, baselines, metrics, reports."""
