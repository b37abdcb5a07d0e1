module github.com/simhook/simhook/webhook

go 1.26.0
