"""The reference investigation: under label noise, does a longer epoch budget hurt an MLP, and does early stopping rescue it?"""
