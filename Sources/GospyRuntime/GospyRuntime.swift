@_exported import GospyBinary
