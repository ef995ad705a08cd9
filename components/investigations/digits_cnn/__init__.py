"""The digits_cnn investigation: on scikit-learn's bundled 8x8 handwritten digits (1 x 8 x 8 images),
does a small CNN beat an MLP and multinomial logistic regression, and does random-shift augmentation
help the CNN when training data is scarce?

Its own code is the data generator (:mod:`.data`); the models (components.library.nets), the
trainer with its device, precision and checkpoint settings (components.library.deep_train) and the
augmentation (components.library.tensors.random_shift) are reusable library pieces. Everything else
is in configs/experiment/digits_cnn.yaml (and digits_cnn_smoke.yaml), configs/data/digits_images.yaml,
configs/training/digits.yaml and the digits_* method files.
"""
