package modem

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openSerial opens a serial port at baud, 8N1, raw, without flow control,
// for exclusive use (TIOCEXCL), as go.bug.st/serial does; but the port is
// an *os.File on Go's poller. go.bug.st/serial's Close closes the
// descriptor before its reader has stopped and leaves Write on the closed
// number, so a reader waiting at Close, or a write just after it, used
// whatever the kernel gave that number to next: another phone's port (its
// answers then went to a dead engine) or any file of the process. An
// *os.File releases its descriptor only once no Read or Write is in
// progress, wakes a waiting Read on Close, and fails every later call.
func openSerial(path string, baud int) (io.ReadWriteCloser, error) {
	speed, ok := baudRates[baud]
	if !ok {
		return nil, fmt.Errorf("open %s: unsupported baud rate %d", path, baud)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := setRaw(fd, speed); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// The descriptor stays non-blocking: os.NewFile puts it on the poller.
	return os.NewFile(uintptr(fd), path), nil
}

// setRaw configures the line: raw (no echo, no line editing, no signals,
// no CR/LF translation, no output processing), reads returning as soon as
// one byte is there, 8N1 at speed, modem control lines ignored, no flow
// control; then takes the port for exclusive use.
func setRaw(fd int, speed uint32) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("tcgetattr: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL |
		unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK | unix.IGNPAR | unix.IUCLC
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ECHOCTL | unix.ECHOPRT | unix.ECHOKE |
		unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("tcsetattr: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		return fmt.Errorf("exclusive access: %w", err)
	}
	return nil
}

// baudRates are the speeds a serial port is opened at.
var baudRates = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800, 921600: unix.B921600,
	1000000: unix.B1000000, 2000000: unix.B2000000, 3000000: unix.B3000000, 4000000: unix.B4000000,
}
