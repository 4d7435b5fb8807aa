"""Devices: app activations, device keys, PIN, biometrics, lock / log out / log out everywhere."""
