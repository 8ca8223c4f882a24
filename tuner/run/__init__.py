"""Running a study: a session checks everything and opens the study, the runner runs its trials within the budget
(with any number of workers on other processes or machines), local worker processes, Ctrl-C."""
