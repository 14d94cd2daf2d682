"""The demos of pymc_ebm: the case studies' code, their figures and the command line.

Installed with the ``demos`` extra (``pip install 'pymc-ebm[demos]'``, which
adds matplotlib, scikit-learn, scikit-image and threadpoolctl), run with
``python -m pymc_ebm_demos NAME --out DIR [--quick] [--seed S] [--threads N]``
or the console script ``pymc-ebm-demo`` (:mod:`pymc_ebm_demos.cli`). Each
study module (:mod:`~pymc_ebm_demos.unigauss_clusters`,
:mod:`~pymc_ebm_demos.four_squares`, :mod:`~pymc_ebm_demos.arm`,
:mod:`~pymc_ebm_demos.natural_images`, :mod:`~pymc_ebm_demos.evaluate`) has a
``run(out_dir, quick=False, seed=...)``; its figures are drawn by the paired
``*_figures`` module from arrays and results, with the helpers of
:mod:`~pymc_ebm_demos.plotting`. The library, :mod:`pymc_ebm`, never imports
this package.
"""
