"""Views: what people see of a study, all read from the store: counts and the best trial, notes for the dashboard,
the dashboard server, the best-model artifact, the HTML report, exports. No TensorFlow, except where `export`
retrains the chosen trial."""
