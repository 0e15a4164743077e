"""The paper's claim in miniature (``python -m omni_r1.mini_repro run``): untrained < SFT < SFT→GRPO on a synthetic
task that needs the video, the audio and the Detail system, on a CPU in minutes.

An entry point at the top of the package's layers: it drives the kit's own commands (``fit``, ``export``,
``sweep``, ``evaluate run``) as subprocesses and reads what they write; the SFT module and the validation callback
its configs name live here too, since they are this experiment's (see ``experiments/mini_repro``).
"""
