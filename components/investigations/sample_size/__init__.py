"""The sample-size investigation: on a regression task, does a small MLP beat ridge regression as the training set grows, and does weight decay matter?"""
