"""Robustness and provenance: is this picture generated, how fragile are our judges (attacks, defences, metric fragility).

Provenance: ``detector`` trains a small CNN on real pictures vs one generator's (Wang et al.'s Blur+JPEG
augmentation), calibrates it (temperature, threshold chosen on validation data) and saves it as
safetensors + JSON; ``spectrum`` is the frequency-spectrum baseline; ``perturb`` the JPEG/blur/resize test
conditions; ``DetectorConfig.adv_eps`` trains it adversarially (PGD from ``attacks``) and
``detector.robust_accuracy`` checks what that bought; ``simulate`` makes simulated generator artefacts
(real pictures through small generator-like decoders, AutoGAN) for ``DetectorConfig.simulate``.
``ganstudio detect PICTURE --detector DIR``, ``ganstudio detector train [--adv-eps EPS] [--simulate N]|evaluate``.

Judges under attack: ``attacks`` (FGSM, PGD L-inf/L2, Square L-inf; ``attack(model, x, y, AttackConfig)``
with the sanity checks: eps 0 = clean, monotone in eps, eval mode, range and budget; a typo attack on the
prompt -> class mapping); ``classifier`` (PGD adversarial training of a Fashion-MNIST CNN, resumable,
cached like the evaluation classifier); ``defences`` (purification by projection onto a run's G, always
reported against BPDA+EOT beside the naive attack); ``fragility`` (how far 1-4/255 perturbations move
FID and KID: ``fid_fragility``; ``ganstudio evaluate --fragility EPS`` shows it next to FID).
``ganstudio robustness attack|train-robust|purify|fragility|report``; the report page itself is built one
layer up, by ``ganstudio.report.build_robustness_report`` (it reads evaluations too).
"""
