@_exported import GospyMemory
