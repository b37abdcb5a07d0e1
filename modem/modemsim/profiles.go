package modemsim

// Profile models how real modems differ: what they print at power-up,
// whether +CLIP needs enabling, and the vendor's own unsolicited lines.
type Profile struct {
	Name, Manufacturer, Model, Revision string
	// Banner lines are written when the modem powers up (New, Replug).
	Banner []string
	// CLIPNeedsEnable: +CLIP follows RING only after AT+CLIP=1 (3GPP
	// default). When false the modem always sends it.
	CLIPNeedsEnable bool
	// Chatter are vendor URCs written now and then (with each probe of
	// signal), which a driver must skip.
	Chatter []string
	// CCIDPrefix is how +CCID answers: "+CCID: " or "" (bare digits).
	CCIDPrefix string
}

// The vendor profiles.
var (
	Generic = Profile{Name: "generic", Manufacturer: "SIMHOOK", Model: "SIM-1", Revision: "1.0",
		CLIPNeedsEnable: true, CCIDPrefix: "+CCID: "}
	Huawei = Profile{Name: "huawei", Manufacturer: "huawei", Model: "E3531", Revision: "22.521.25.00.00",
		Banner: []string{"^BOOT:20315906,0,0,0,75"}, CLIPNeedsEnable: true,
		Chatter: []string{"^RSSI:18", "^MODE:5,4", "^DSFLOWRPT:0000001E,00000000,00000000"}, CCIDPrefix: "^ICCID: "}
	Quectel = Profile{Name: "quectel", Manufacturer: "Quectel", Model: "EC25", Revision: "EC25EFAR06A06M4G",
		Banner: []string{"RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"}, CLIPNeedsEnable: true,
		Chatter: []string{"+QIND: \"csq\",20,99"}, CCIDPrefix: "+CCID: "}
	SIMCom = Profile{Name: "simcom", Manufacturer: "SIMCOM_Ltd", Model: "SIMCOM_SIM800L", Revision: "Revision:1418B04SIM800L24",
		Banner: []string{"+CPIN: READY", "Call Ready", "SMS Ready"}, CLIPNeedsEnable: false, CCIDPrefix: ""}
)
