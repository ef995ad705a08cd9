"""Each investigation's own code, one folder per investigation.

A folder holds what a researcher writes for their question (usually a data
generator, sometimes a trainer, model or metric of its own) and a README that
says what the question is and which experiment configs run it. Adding an
investigation touches only its folder and ``configs/``; the framework
(``components/*.py``) never imports from here: configs name this code by import
path.
"""
