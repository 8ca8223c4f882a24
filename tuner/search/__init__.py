"""Search: the study's space sampled into hyperparameters, the sampler and the pruner, the objective that trains one
trial and records it, the metric it is judged on, constraints, warm starts and multiple objectives."""
