"""Reports: course question statistics, knowledge gain, evaluations, completions, exports."""
