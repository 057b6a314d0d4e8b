/*
 * linux/hid.h: the HID class requests and report types a USB driver sends by hand (devsim, C gnu11). The HID core
 * (hid_device, hid_driver, report parsing) is not modelled.
 */
#ifndef _DEVSIM_LINUX_HID_H
#define _DEVSIM_LINUX_HID_H

#include "types.h"

/* Report types (include/linux/hid.h). */
#define HID_INPUT_REPORT 0
#define HID_OUTPUT_REPORT 1
#define HID_FEATURE_REPORT 2

/* Class requests (include/uapi/linux/hid.h, HID 1.11 section 7.2). */
#define HID_REQ_GET_REPORT 0x01
#define HID_REQ_GET_IDLE 0x02
#define HID_REQ_GET_PROTOCOL 0x03
#define HID_REQ_SET_REPORT 0x09
#define HID_REQ_SET_IDLE 0x0A
#define HID_REQ_SET_PROTOCOL 0x0B

#endif
