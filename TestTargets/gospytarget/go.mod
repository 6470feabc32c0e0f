module example.com/gospytarget

go 1.19
