"""The papers' experiments: each reproduces a table or figure and prints it next to the
paper's numbers (inkface reproduce).
"""
