module gospy/layoutprobe

go 1.19
