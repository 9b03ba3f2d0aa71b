"""What a run can return to a sweeper as its objective: which way is better, and how sentences name
it. One table for the config's schema (``nnsweep.experiments.config``), the runs' summaries and
the sweeps' and reports' readers, kept here, below all of them, so that reading it costs nothing."""

OBJECTIVES = {"best_val_acc": "max", "final_val_acc": "max", "best_val_loss": "min"}
DEFAULT_OBJECTIVE = "best_val_acc"
OBJECTIVE_NAMES = {  # as sentences name them
    "best_val_acc": "best validation accuracy",
    "final_val_acc": "final validation accuracy",
    "best_val_loss": "best validation loss",
}
