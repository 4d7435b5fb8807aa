"""Devices: bound app installations, device keys, PIN, biometrics, lock / log out / log out
everywhere. How an app gets its device is ``portti.activation``'s."""
