from .digits import load_digits
