/*
 * linux/pm.h: the power-management message a driver's suspend callback is given (devsim, C gnu11).
 *
 * Only the type and the event codes: devsim has no system sleep and no runtime PM, so nothing sends these.
 */
#ifndef _DEVSIM_LINUX_PM_H
#define _DEVSIM_LINUX_PM_H

typedef struct pm_message {
  int event;
} pm_message_t;

#define PM_EVENT_ON 0x0000
#define PM_EVENT_FREEZE 0x0001
#define PM_EVENT_SUSPEND 0x0002
#define PM_EVENT_HIBERNATE 0x0004
#define PM_EVENT_QUIESCE 0x0008
#define PM_EVENT_RESUME 0x0010
#define PM_EVENT_AUTO 0x0400
#define PM_EVENT_AUTO_SUSPEND (PM_EVENT_AUTO | PM_EVENT_SUSPEND)

#define PMSG_ON ((struct pm_message){.event = PM_EVENT_ON})
#define PMSG_SUSPEND ((struct pm_message){.event = PM_EVENT_SUSPEND})
#define PMSG_FREEZE ((struct pm_message){.event = PM_EVENT_FREEZE})
#define PMSG_AUTO_SUSPEND ((struct pm_message){.event = PM_EVENT_AUTO_SUSPEND})

#define PMSG_IS_AUTO(msg) (((msg).event & PM_EVENT_AUTO) != 0)

#endif
