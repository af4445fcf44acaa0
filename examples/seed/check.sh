#!/bin/sh
# The seed project's "test suite".
grep -q "return a + b" calc.py && echo "tests passed"
