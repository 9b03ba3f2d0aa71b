from nnsweep.experiments.startup import quiet_start

quiet_start()  # first thing: Ctrl-C while the command imports is one line (nnsweep.experiments.startup)
