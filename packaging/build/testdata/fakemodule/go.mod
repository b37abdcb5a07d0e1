module github.com/simhook/simhook

go 1.26
